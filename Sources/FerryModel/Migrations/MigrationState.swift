/// What the phase machine knows about one migration (stored with it, so a restarted ferryd resumes
/// from the same state).
public struct MigrationState: Sendable, Equatable {
    /// Why a rollback is under way: it decides the ending (`cancelled` or `rolled_back`).
    public enum Rollback: Sendable, Equatable {
        case cancel(reason: String)
        case abort(reason: String)

        public var reason: String {
            switch self {
            case .cancel(let reason), .abort(let reason): reason
            }
        }
    }

    public var phase: MigrationPhase
    public var policy: MigrationPolicy
    /// vCPU time taken away by auto-converge, 0..99.
    public var throttlePercent: UInt32
    /// Last command sequence number used; the next command gets `lastSeq + 1`.
    public var lastSeq: UInt64
    /// Set once the destination answered PrepareDestination.
    public var destinationAddress: String?
    /// Set while the agents roll back (abort sent, `rolled_back` not yet reported).
    public var rollback: Rollback?
    /// Why it ended, when it ended otherwise than `completed`.
    public var reason: String

    public init(
        phase: MigrationPhase = .pending, policy: MigrationPolicy = .defaults, throttlePercent: UInt32 = 0,
        lastSeq: UInt64 = 0, destinationAddress: String? = nil, rollback: Rollback? = nil, reason: String = ""
    ) {
        self.phase = phase
        self.policy = policy
        self.throttlePercent = throttlePercent
        self.lastSeq = lastSeq
        self.destinationAddress = destinationAddress
        self.rollback = rollback
        self.reason = reason
    }
}

/// The outcome of an accepted event: the new state and the commands to send, in order. The driver
/// commits the state (and an event) to the store *before* sending the commands.
public struct PhaseTransition: Sendable, Equatable {
    public var state: MigrationState
    public var commands: [AgentCommand]
}

/// An event the phase machine refused, with the reason (shown to operators, e.g. on cancel).
public struct TransitionRejected: Error, Sendable, Equatable, CustomStringConvertible {
    public var phase: MigrationPhase
    public var event: MigrationEvent.Kind
    public var reason: String

    public init(phase: MigrationPhase, event: MigrationEvent.Kind, reason: String) {
        self.phase = phase
        self.event = event
        self.reason = reason
    }

    public var description: String { "\(event.rawValue) refused in phase \(phase.rawValue): \(reason)" }
}
