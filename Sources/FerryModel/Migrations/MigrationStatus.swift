/// A migration as `status` shows it: the stored migration (its fields at the top level, so
/// clients of `GET /v1/migrations/{id}` keep reading them as before), the agents' latest progress
/// and, while pending, why it waits.
///
/// Its keys are declared (`DeclaredJSONKeys`), the migration's fields included: `status` of a
/// plan sends thousands of them, and converting each was most of the cost.
public struct MigrationStatus: Codable, Sendable, Equatable, DeclaredJSONKeys {
    public var migration: Migration
    public var progress: MigrationProgress?
    public var waitingReason: String?
    /// The destination confirmed: cancel is refused from here on.
    public var pointOfNoReturnPassed: Bool
    /// Time still needed, from the progress (`MigrationETA.estimate`).
    public var eta: MigrationETA

    enum CodingKeys: String, CodingKey {
        // The migration's fields, as `Migration` names them once converted.
        case id
        case planID = "plan_id"
        case position
        case vmID = "vm_id"
        case sourceHostID = "source_host_id"
        case destinationHostID = "destination_host_id"
        case wave, priority
        case ramBytes = "ram_bytes"
        case phase
        case phaseTimes = "phase_times"
        case commandSeq = "command_seq"
        case reason
        // The status's own.
        case progress
        case waitingReason = "waiting_reason"
        case pointOfNoReturnPassed = "point_of_no_return_passed"
        case eta
    }

    public init(migration: Migration, progress: MigrationProgress?, waitingReason: String?) {
        self.migration = migration
        self.progress = progress
        self.waitingReason = waitingReason
        self.pointOfNoReturnPassed = migration.phase.isPastPointOfNoReturn
        self.eta = MigrationETA.estimate(phase: migration.phase, progress: progress)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        migration = Migration(
            id: try c.decode(String.self, forKey: .id), planID: try c.decode(String.self, forKey: .planID),
            position: try c.decode(Int.self, forKey: .position), vmID: try c.decode(String.self, forKey: .vmID),
            sourceHostID: try c.decode(String.self, forKey: .sourceHostID),
            destinationHostID: try c.decode(String.self, forKey: .destinationHostID),
            wave: try c.decode(Int.self, forKey: .wave), priority: try c.decode(Int.self, forKey: .priority),
            ramBytes: try c.decode(UInt64.self, forKey: .ramBytes),
            phase: try c.decode(MigrationPhase.self, forKey: .phase),
            phaseTimes: try c.decode([PhaseTime].self, forKey: .phaseTimes),
            commandSeq: try c.decode(UInt64.self, forKey: .commandSeq),
            reason: try c.decode(String.self, forKey: .reason))
        progress = try c.decodeIfPresent(MigrationProgress.self, forKey: .progress)
        waitingReason = try c.decodeIfPresent(String.self, forKey: .waitingReason)
        pointOfNoReturnPassed = try c.decodeIfPresent(Bool.self, forKey: .pointOfNoReturnPassed) ?? false
        eta =
            try c.decodeIfPresent(MigrationETA.self, forKey: .eta)
            ?? MigrationETA.estimate(phase: migration.phase, progress: progress)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(migration.id, forKey: .id)
        try c.encode(migration.planID, forKey: .planID)
        try c.encode(migration.position, forKey: .position)
        try c.encode(migration.vmID, forKey: .vmID)
        try c.encode(migration.sourceHostID, forKey: .sourceHostID)
        try c.encode(migration.destinationHostID, forKey: .destinationHostID)
        try c.encode(migration.wave, forKey: .wave)
        try c.encode(migration.priority, forKey: .priority)
        try c.encode(migration.ramBytes, forKey: .ramBytes)
        try c.encode(migration.phase, forKey: .phase)
        try c.encode(migration.phaseTimes, forKey: .phaseTimes)
        try c.encode(migration.commandSeq, forKey: .commandSeq)
        try c.encode(migration.reason, forKey: .reason)
        try c.encodeIfPresent(progress, forKey: .progress)
        try c.encodeIfPresent(waitingReason, forKey: .waitingReason)
        try c.encode(pointOfNoReturnPassed, forKey: .pointOfNoReturnPassed)
        try c.encode(eta, forKey: .eta)
    }
}
