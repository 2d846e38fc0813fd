/// The migration phase machine: a pure function (state, event) → (state, commands).
///
///     pending ─admitted→ scheduled ─started→ preparing ─(destination, then source prepared)→ precopy
///     scheduled ─requeued→ pending (a host stayed away before anything was sent)
///     precopy ─cutover_started→ cutover ─destination_confirmed→ resuming ─completed→ completed
///
/// Before the destination confirms, cancel / agent failure / policy abort send Abort to both agents
/// and wait for `rolled_back` (ending `cancelled` or `rolled_back`); pending and scheduled
/// migrations have sent nothing and end at once. After the confirmation (phase `resuming`) the VM
/// runs on the destination: cancel and abort are refused, an agent failure ends in `failed`.
/// Terminal phases refuse everything.
public enum PhaseMachine {
    public static func apply(_ event: MigrationEvent, to state: MigrationState) -> Result<
        PhaseTransition, TransitionRejected
    > {
        var next = state
        var commands: [AgentCommand] = []
        func send(_ role: MigrationRole, _ body: AgentCommandBody) {
            next.lastSeq += 1
            commands.append(AgentCommand(role: role, seq: next.lastSeq, body: body))
        }
        func reject(_ reason: String) -> Result<PhaseTransition, TransitionRejected> {
            .failure(TransitionRejected(phase: state.phase, event: event.kind, reason: reason))
        }
        func accept() -> Result<PhaseTransition, TransitionRejected> {
            .success(PhaseTransition(state: next, commands: commands))
        }
        func startRollback(_ rollback: MigrationState.Rollback) -> Result<PhaseTransition, TransitionRejected> {
            next.rollback = rollback
            // Both sides: the source resumes the VM, the destination drops what it reserved.
            send(.source, .abort(reason: rollback.reason))
            send(.destination, .abort(reason: rollback.reason))
            return accept()
        }
        func end(_ phase: MigrationPhase, _ reason: String) -> Result<PhaseTransition, TransitionRejected> {
            next.phase = phase
            next.reason = reason
            next.rollback = nil
            return accept()
        }

        if state.phase.isTerminal { return reject("the migration already ended (\(state.phase.rawValue))") }
        if let rollback = state.rollback { return applyDuringRollback(event, rollback, state) }

        switch (state.phase, event) {
        case (.pending, .admitted):
            next.phase = .scheduled
            return accept()
        case (.pending, .cancelRequested(let reason)), (.scheduled, .cancelRequested(let reason)):
            // Nothing was sent to any agent yet: nothing to roll back.
            return end(.cancelled, reason)
        case (.scheduled, .requeued):
            // Nothing was sent yet: give the slots back and wait in line again.
            next.phase = .pending
            return accept()
        case (.scheduled, .started):
            next.phase = .preparing
            send(.destination, .prepareDestination)
            return accept()
        case (.preparing, .destinationPrepared(let address)):
            guard state.destinationAddress == nil else { return reject("the destination is already prepared") }
            next.destinationAddress = address
            send(.source, .prepareSource(destinationAddress: address))
            return accept()
        case (.preparing, .sourcePrepared):
            guard state.destinationAddress != nil else { return reject("the destination is not prepared yet") }
            next.phase = .precopy
            send(.source, .startPrecopy(state.policy, throttlePercent: state.throttlePercent))
            return accept()
        case (.precopy, .policyAdjusted(let policy, let throttle)):
            next.policy = policy
            next.throttlePercent = throttle
            send(.source, .adjustPolicy(policy, throttlePercent: throttle))
            return accept()
        case (.precopy, .cutoverForced):
            send(.source, .forceCutover)
            return accept()
        case (.precopy, .cutoverStarted):
            next.phase = .cutover
            return accept()
        case (.cutover, .destinationConfirmed):
            next.phase = .resuming
            return accept()
        case (.resuming, .completed):
            next.phase = .completed
            return accept()
        case (.preparing, .cancelRequested(let reason)), (.precopy, .cancelRequested(let reason)),
            (.cutover, .cancelRequested(let reason)):
            return startRollback(.cancel(reason: reason))
        case (.preparing, .abortRequested(let reason)), (.precopy, .abortRequested(let reason)),
            (.cutover, .abortRequested(let reason)):
            return startRollback(.abort(reason: reason))
        case (.preparing, .agentFailed(let role, let reason)), (.precopy, .agentFailed(let role, let reason)),
            (.cutover, .agentFailed(let role, let reason)):
            return startRollback(.abort(reason: "\(role.rawValue) agent failed: \(reason)"))
        case (.preparing, .rolledBack), (.precopy, .rolledBack), (.cutover, .rolledBack):
            // The source gave up by itself (e.g. a device refused a state) and resumed the VM.
            return end(.rolledBack, "the source agent rolled back on its own")
        case (.resuming, .cancelRequested), (.resuming, .abortRequested):
            return reject("the point of no return was passed: the destination already runs the VM")
        case (.resuming, .agentFailed(let role, let reason)):
            // The VM runs on the destination; there is nothing to roll back to.
            return end(.failed, "\(role.rawValue) agent failed after the point of no return: \(reason)")
        default:
            return reject("not expected in phase \(state.phase.rawValue)")
        }
    }

    /// While an Abort is out: wait for the outcome, tolerate reports already in flight.
    private static func applyDuringRollback(
        _ event: MigrationEvent, _ rollback: MigrationState.Rollback, _ state: MigrationState
    ) -> Result<PhaseTransition, TransitionRejected> {
        var next = state
        switch event {
        case .rolledBack:
            switch rollback {
            case .cancel(let reason):
                next.phase = .cancelled
                next.reason = reason
            case .abort(let reason):
                next.phase = .rolledBack
                next.reason = reason
            }
            next.rollback = nil
        case .agentFailed(let role, let reason):
            next.phase = .failed
            next.reason = "rollback failed on the \(role.rawValue): \(reason) (after: \(rollback.reason))"
            next.rollback = nil
        case .cancelRequested, .abortRequested:
            break  // already rolling back: nothing more to send
        case .cutoverStarted where state.phase == .precopy:
            next.phase = .cutover  // the source had cut over before the Abort arrived
        case .destinationConfirmed where state.phase == .cutover:
            // The Abort lost the race: the destination runs the VM, which is now the outcome to finish.
            next.phase = .resuming
            next.rollback = nil
        default:
            return .failure(
                TransitionRejected(
                    phase: state.phase, event: event.kind, reason: "rolling back (\(rollback.reason))"))
        }
        return .success(PhaseTransition(state: next, commands: []))
    }
}
