/// An agent ferryd gave up on (`HostLossAction.giveUp`): the migration ended without its word. On
/// its return it gets the Abort it had not answered (same seq: an agent answers a repeat from its
/// record) and is asked where it stands; its answer is recorded (`agent_reconciled`), which ends the
/// wait. Other commands it had not answered are not sent again: the migration has ended, and each
/// of them could only start work the Abort then undoes.
///
/// The give-up is written into the attributes of the event that ends the migration (the same
/// transaction as the phase change), so a restarted ferryd derives the same wait from the history
/// (`awaited(in:)`) and reconciles the returning agent exactly as the ferryd that gave up would have.
public struct GivenUpAgent: Sendable, Equatable {
    public var role: MigrationRole
    /// The Abort sent to it that it had not answered, if any.
    public var unansweredAbort: AgentCommand?

    /// `unansweredAbort` must be an Abort for `role`; anything else is not kept.
    public init(role: MigrationRole, unansweredAbort: AgentCommand?) {
        self.role = role
        if let abort = unansweredAbort, abort.role == role, case .abort = abort.body {
            self.unansweredAbort = abort
        } else {
            self.unansweredAbort = nil
        }
    }

    /// The kind of the event that records an agent's report on its return.
    public static let reconciledKind = "agent_reconciled"

    enum Key {
        static let role = "given_up"
        static let abortSeq = "given_up_abort_seq"
        static let abortReason = "given_up_abort_reason"
    }

    /// Attributes added to the event of the transition that gives up on the agent.
    public var attributes: [String: String] {
        var attributes = [Key.role: role.rawValue]
        if let abort = unansweredAbort, case .abort(let reason) = abort.body {
            attributes[Key.abortSeq] = String(abort.seq)
            attributes[Key.abortReason] = reason
        }
        return attributes
    }

    /// The give-up an event's attributes record; nil for any other event (or a malformed one).
    public init?(attributes: [String: String]) {
        guard let raw = attributes[Key.role], let role = MigrationRole(rawValue: raw) else { return nil }
        var abort: AgentCommand?
        if let text = attributes[Key.abortSeq] {
            guard let seq = UInt64(text), seq > 0 else { return nil }
            abort = AgentCommand(role: role, seq: seq, body: .abort(reason: attributes[Key.abortReason] ?? ""))
        }
        self.init(role: role, unansweredAbort: abort)
    }

    /// The agents still awaited, by migration id, after `history` (in seq order): every give-up not
    /// followed by that role's `agent_reconciled` event for the same migration.
    public static func awaited(in history: [Event]) -> [String: [MigrationRole: GivenUpAgent]] {
        var awaited: [String: [MigrationRole: GivenUpAgent]] = [:]
        for event in history.sorted(by: { $0.seq < $1.seq }) where !event.migrationID.isEmpty {
            if event.kind == reconciledKind {
                guard let raw = event.attributes["role"], let role = MigrationRole(rawValue: raw) else { continue }
                awaited[event.migrationID]?[role] = nil
                if awaited[event.migrationID]?.isEmpty == true { awaited[event.migrationID] = nil }
            } else if let agent = GivenUpAgent(attributes: event.attributes) {
                awaited[event.migrationID, default: [:]][agent.role] = agent
            }
        }
        return awaited
    }
}
