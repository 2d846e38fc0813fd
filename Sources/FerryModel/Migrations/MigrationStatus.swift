/// A migration as `status` shows it: the stored migration (its fields at the top level, so
/// clients of `GET /v1/migrations/{id}` keep reading them as before), the agents' latest progress
/// and, while pending, why it waits.
public struct MigrationStatus: Codable, Sendable, Equatable {
    public var migration: Migration
    public var progress: MigrationProgress?
    public var waitingReason: String?
    /// The destination confirmed: cancel is refused from here on.
    public var pointOfNoReturnPassed: Bool
    /// Time still needed, from the progress (`MigrationETA.estimate`).
    public var eta: MigrationETA

    enum CodingKeys: String, CodingKey {
        case progress, waitingReason, pointOfNoReturnPassed, eta
    }

    public init(migration: Migration, progress: MigrationProgress?, waitingReason: String?) {
        self.migration = migration
        self.progress = progress
        self.waitingReason = waitingReason
        self.pointOfNoReturnPassed = migration.phase.isPastPointOfNoReturn
        self.eta = MigrationETA.estimate(phase: migration.phase, progress: progress)
    }

    public init(from decoder: any Decoder) throws {
        migration = try Migration(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        progress = try c.decodeIfPresent(MigrationProgress.self, forKey: .progress)
        waitingReason = try c.decodeIfPresent(String.self, forKey: .waitingReason)
        pointOfNoReturnPassed = try c.decodeIfPresent(Bool.self, forKey: .pointOfNoReturnPassed) ?? false
        eta =
            try c.decodeIfPresent(MigrationETA.self, forKey: .eta)
            ?? MigrationETA.estimate(phase: migration.phase, progress: progress)
    }

    public func encode(to encoder: any Encoder) throws {
        try migration.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(progress, forKey: .progress)
        try c.encodeIfPresent(waitingReason, forKey: .waitingReason)
        try c.encode(pointOfNoReturnPassed, forKey: .pointOfNoReturnPassed)
        try c.encode(eta, forKey: .eta)
    }
}
