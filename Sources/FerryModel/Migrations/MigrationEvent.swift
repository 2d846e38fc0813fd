/// What can happen to a migration: the phase machine's input. Agent reports (Progress phases,
/// command results), scheduler and operator decisions, convergence-policy decisions.
public enum MigrationEvent: Sendable, Equatable {
    /// The scheduler gave it slots.
    case admitted
    /// Admitted, but a host stayed unreachable before anything was sent: back to pending, slots freed.
    case requeued(reason: String)
    /// Its driver started working on it (first command may go out).
    case started
    /// The destination reserved everything and listens at `dataAddress`.
    case destinationPrepared(dataAddress: String)
    /// The source opened its data channels and tracks dirty pages.
    case sourcePrepared
    /// The source stopped the vCPUs (it decided by itself, or was forced).
    case cutoverStarted
    /// The destination runs the VM: the point of no return.
    case destinationConfirmed
    /// The source released the VM; both sides are done.
    case completed
    /// The source runs the VM again and the destination released everything.
    case rolledBack
    /// An agent reported a failure, or could not be reached for too long.
    case agentFailed(role: MigrationRole, reason: String)
    /// The operator asked to cancel.
    case cancelRequested(reason: String)
    /// ferryd's convergence policy: new throttle/bandwidth.
    case policyAdjusted(MigrationPolicy, throttlePercent: UInt32)
    /// ferryd's convergence policy: cut over now.
    case cutoverForced
    /// ferryd's convergence policy or deadline: give up and roll back.
    case abortRequested(reason: String)

    /// Case name without payload, for tables and messages.
    public var kind: Kind {
        switch self {
        case .admitted: .admitted
        case .requeued: .requeued
        case .started: .started
        case .destinationPrepared: .destinationPrepared
        case .sourcePrepared: .sourcePrepared
        case .cutoverStarted: .cutoverStarted
        case .destinationConfirmed: .destinationConfirmed
        case .completed: .completed
        case .rolledBack: .rolledBack
        case .agentFailed: .agentFailed
        case .cancelRequested: .cancelRequested
        case .policyAdjusted: .policyAdjusted
        case .cutoverForced: .cutoverForced
        case .abortRequested: .abortRequested
        }
    }

    public enum Kind: String, Sendable, CaseIterable {
        case admitted, requeued, started
        case destinationPrepared = "destination_prepared"
        case sourcePrepared = "source_prepared"
        case cutoverStarted = "cutover_started"
        case destinationConfirmed = "destination_confirmed"
        case completed
        case rolledBack = "rolled_back"
        case agentFailed = "agent_failed"
        case cancelRequested = "cancel_requested"
        case policyAdjusted = "policy_adjusted"
        case cutoverForced = "cutover_forced"
        case abortRequested = "abort_requested"
    }
}
