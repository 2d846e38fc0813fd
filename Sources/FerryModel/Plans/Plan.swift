import Foundation

/// Where a plan entry sends its VM(s).
public enum PlanTarget: Codable, Sendable, Equatable {
    /// One VM to one named destination.
    case migrate(vmID: String, source: String, destination: String)
    /// Every VM of `host`, each to whichever candidate has the most free capacity (and compatible devices).
    case evacuate(host: String, candidates: [String])
}

/// One entry of a plan, as written.
public struct PlanEntry: Codable, Sendable, Equatable {
    public var target: PlanTarget
    /// Wave 1 starts first; wave N starts when every migration of waves < N has ended.
    public var wave: Int
    /// Overrides the plan policy's priority for this entry.
    public var priority: Int?
    /// Where the entry starts in the plan file, and where each of its fields is (for messages).
    public var line: Int
    public var fieldLines: [String: Int]

    public init(target: PlanTarget, wave: Int = 1, priority: Int? = nil, line: Int = 0, fieldLines: [String: Int] = [:])
    {
        self.target = target
        self.wave = wave
        self.priority = priority
        self.line = line
        self.fieldLines = fieldLines
    }

    /// The line of `field`, or of the entry when the field is absent.
    public func line(of field: String) -> Int { fieldLines[field] ?? line }
}

/// A plan as the operator wrote it: a name, a policy, entries.
public struct PlanDocument: Codable, Sendable, Equatable {
    public var name: String
    public var policy: MigrationPolicy
    public var entries: [PlanEntry]
    /// Line of the `migrations` key (for problems about the plan as a whole).
    public var migrationsLine: Int

    public init(name: String, policy: MigrationPolicy = .defaults, entries: [PlanEntry], migrationsLine: Int = 0) {
        self.name = name
        self.policy = policy
        self.entries = entries
        self.migrationsLine = migrationsLine
    }
}

/// One concrete migration a valid plan resolves to (evacuations expanded, destinations chosen).
public struct PlannedMigration: Codable, Sendable, Equatable {
    public var vmID: String
    public var sourceHostID: String
    public var destinationHostID: String
    public var wave: Int
    public var priority: Int
    public var ramBytes: UInt64
    /// Line of the plan entry it came from (an evacuation gives several migrations one line).
    public var line: Int

    enum CodingKeys: String, CodingKey {
        case vmID = "vmId"
        case sourceHostID = "sourceHostId"
        case destinationHostID = "destinationHostId"
        case wave, priority, ramBytes, line
    }

    public init(
        vmID: String, sourceHostID: String, destinationHostID: String, wave: Int, priority: Int, ramBytes: UInt64,
        line: Int
    ) {
        self.vmID = vmID
        self.sourceHostID = sourceHostID
        self.destinationHostID = destinationHostID
        self.wave = wave
        self.priority = priority
        self.ramBytes = ramBytes
        self.line = line
    }
}

/// How a submitted plan stands, rolled up from its migrations.
public enum PlanStatus: String, Codable, Sendable, CaseIterable {
    /// Some migration has not ended yet.
    case running
    /// Every migration completed.
    case completed
    /// Every migration ended, at least one not completed.
    case ended
}

/// A plan ferryd accepted and stored.
public struct Plan: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var name: String
    /// File name the operator submitted (for messages), and the text as submitted (for audit).
    public var fileName: String
    public var source: String
    public var policy: MigrationPolicy
    public var submittedAt: Date

    public init(
        id: String, name: String, fileName: String, source: String, policy: MigrationPolicy, submittedAt: Date
    ) {
        self.id = id
        self.name = name
        self.fileName = fileName
        self.source = source
        self.policy = policy
        self.submittedAt = submittedAt
    }
}
