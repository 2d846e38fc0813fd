/// What a migration's driver must keep across a ferryd restart beyond the `migrations` row (phase,
/// command seq, reason): the data-channel token, where the destination listens, the policy in force
/// and whether a rollback is under way. Stored with every transition, in the same transaction.
public struct MigrationRuntime: Codable, Sendable, Equatable {
    /// Hex of the random token both agents' data channels present.
    public var token: String
    public var destinationAddress: String?
    public var policy: MigrationPolicy
    public var throttlePercent: UInt32
    /// `cancel` or `abort` while an Abort is out; nil otherwise.
    public var rollbackKind: String?
    public var rollbackReason: String

    public init(
        token: String, destinationAddress: String? = nil, policy: MigrationPolicy, throttlePercent: UInt32 = 0,
        rollbackKind: String? = nil, rollbackReason: String = ""
    ) {
        self.token = token
        self.destinationAddress = destinationAddress
        self.policy = policy
        self.throttlePercent = throttlePercent
        self.rollbackKind = rollbackKind
        self.rollbackReason = rollbackReason
    }

    /// The runtime part of a phase-machine state.
    public init(token: String, state: MigrationState) {
        self.init(
            token: token, destinationAddress: state.destinationAddress, policy: state.policy,
            throttlePercent: state.throttlePercent)
        switch state.rollback {
        case .cancel(let reason):
            rollbackKind = "cancel"
            rollbackReason = reason
        case .abort(let reason):
            rollbackKind = "abort"
            rollbackReason = reason
        case nil: break
        }
    }

    /// The phase-machine state of `migration` with this runtime.
    public func state(of migration: Migration) -> MigrationState {
        let rollback: MigrationState.Rollback? =
            switch rollbackKind {
            case "cancel": .cancel(reason: rollbackReason)
            case "abort": .abort(reason: rollbackReason)
            default: nil
            }
        return MigrationState(
            phase: migration.phase, policy: policy, throttlePercent: throttlePercent, lastSeq: migration.commandSeq,
            destinationAddress: destinationAddress, rollback: rollback, reason: migration.reason)
    }
}
