import Foundation

/// One VM moving from one host to another, as ferryd stores it.
public struct Migration: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var planID: String
    /// Position in the plan (evacuations expanded): plan order for the scheduler.
    public var position: Int
    public var vmID: String
    public var sourceHostID: String
    public var destinationHostID: String
    public var wave: Int
    public var priority: Int
    public var ramBytes: UInt64
    public var phase: MigrationPhase
    /// Each phase it went through and when it entered it, in order. (A list, not a dictionary:
    /// JSON key strategies would rewrite `rolled_back` into `rolledBack` on the way back.)
    public var phaseTimes: [PhaseTime]
    /// Last command sequence number used for this migration (commands are idempotent per seq).
    public var commandSeq: UInt64
    /// Why it failed, was cancelled or rolled back; empty otherwise.
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case id
        case planID = "planId"
        case position
        case vmID = "vmId"
        case sourceHostID = "sourceHostId"
        case destinationHostID = "destinationHostId"
        case wave, priority, ramBytes, phase, phaseTimes, commandSeq, reason
    }

    public init(
        id: String, planID: String, position: Int, vmID: String, sourceHostID: String, destinationHostID: String,
        wave: Int, priority: Int, ramBytes: UInt64, phase: MigrationPhase = .pending,
        phaseTimes: [PhaseTime] = [], commandSeq: UInt64 = 0, reason: String = ""
    ) {
        self.id = id
        self.planID = planID
        self.position = position
        self.vmID = vmID
        self.sourceHostID = sourceHostID
        self.destinationHostID = destinationHostID
        self.wave = wave
        self.priority = priority
        self.ramBytes = ramBytes
        self.phase = phase
        self.phaseTimes = phaseTimes
        self.commandSeq = commandSeq
        self.reason = reason
    }

    /// When `phase` was entered, if it was.
    public func enteredAt(_ phase: MigrationPhase) -> Date? {
        phaseTimes.last { $0.phase == phase }?.at
    }
}

/// A phase and when a migration entered it.
public struct PhaseTime: Codable, Sendable, Equatable, DeclaredJSONKeys {
    public var phase: MigrationPhase
    public var at: Date

    public init(phase: MigrationPhase, at: Date) {
        self.phase = phase
        self.at = at
    }
}
