import FerryModel
import Testing

/// Every (phase, event) pair: the allowed ones with their outcome, everything else rejected.
@Suite("Phase machine")
struct PhaseMachineTests {
    /// One sample event of each kind.
    static let events: [MigrationEvent] = [
        .admitted, .requeued(reason: "host-b unreachable for 60 s"), .started,
        .destinationPrepared(dataAddress: "10.0.0.2:7101"), .sourcePrepared, .cutoverStarted,
        .destinationConfirmed, .completed, .rolledBack, .agentFailed(role: .source, reason: "device refused"),
        .cancelRequested(reason: "operator"), .policyAdjusted(.defaults, throttlePercent: 20), .cutoverForced,
        .abortRequested(reason: "deadline"),
    ]

    /// The canonical state of each phase: what a migration looks like on arriving there (no rollback
    /// under way; from precopy on the destination is prepared).
    static func state(_ phase: MigrationPhase) -> MigrationState {
        let prepared = phase > .preparing && !phase.isTerminal
        return MigrationState(phase: phase, lastSeq: 7, destinationAddress: prepared ? "10.0.0.2:7101" : nil)
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var phase: MigrationPhase
        var commands: [String]  // "role:body"
        var rollingBack: Bool = false
        var description: String { "\(phase.rawValue) \(commands) rollingBack=\(rollingBack)" }
    }

    /// The allowed transitions. Any pair not listed here must be rejected.
    static let allowed: [MigrationPhase: [MigrationEvent.Kind: Outcome]] = [
        .pending: [
            .admitted: Outcome(phase: .scheduled, commands: []),
            .cancelRequested: Outcome(phase: .cancelled, commands: []),
        ],
        .scheduled: [
            .started: Outcome(phase: .preparing, commands: ["destination:prepare_destination"]),
            .requeued: Outcome(phase: .pending, commands: []),
            .cancelRequested: Outcome(phase: .cancelled, commands: []),
        ],
        .preparing: [
            .destinationPrepared: Outcome(phase: .preparing, commands: ["source:prepare_source"]),
            .cancelRequested: rollback(.preparing),
            .abortRequested: rollback(.preparing),
            .agentFailed: rollback(.preparing),
            .rolledBack: Outcome(phase: .rolledBack, commands: []),
        ],
        .precopy: [
            .policyAdjusted: Outcome(phase: .precopy, commands: ["source:adjust_policy"]),
            .cutoverForced: Outcome(phase: .precopy, commands: ["source:force_cutover"]),
            .cutoverStarted: Outcome(phase: .cutover, commands: []),
            .cancelRequested: rollback(.precopy),
            .abortRequested: rollback(.precopy),
            .agentFailed: rollback(.precopy),
            .rolledBack: Outcome(phase: .rolledBack, commands: []),
        ],
        .cutover: [
            .destinationConfirmed: Outcome(phase: .resuming, commands: []),
            .cancelRequested: rollback(.cutover),
            .abortRequested: rollback(.cutover),
            .agentFailed: rollback(.cutover),
            .rolledBack: Outcome(phase: .rolledBack, commands: []),
        ],
        .resuming: [
            .completed: Outcome(phase: .completed, commands: []),
            .agentFailed: Outcome(phase: .failed, commands: []),
        ],
    ]

    static func rollback(_ phase: MigrationPhase) -> Outcome {
        Outcome(phase: phase, commands: ["source:abort", "destination:abort"], rollingBack: true)
    }

    static let pairs: [(MigrationPhase, MigrationEvent)] = MigrationPhase.allCases.flatMap { phase in
        events.map { (phase, $0) }
    }

    @Test("every (phase, event) pair", arguments: pairs)
    func everyPair(phase: MigrationPhase, event: MigrationEvent) {
        let result = PhaseMachine.apply(event, to: Self.state(phase))
        switch (Self.allowed[phase]?[event.kind], result) {
        case (let expected?, .success(let transition)):
            let outcome = Outcome(
                phase: transition.state.phase,
                commands: transition.commands.map { "\($0.role.rawValue):\($0.body.name)" },
                rollingBack: transition.state.rollback != nil)
            #expect(outcome == expected)
            // Sequence numbers continue from the state's and increase by one per command.
            #expect(transition.commands.map(\.seq) == Array((8..<(8 + UInt64(transition.commands.count)))))
            #expect(transition.state.lastSeq == 7 + UInt64(transition.commands.count))
        case (nil, .failure(let rejection)):
            #expect(rejection.phase == phase)
            #expect(rejection.event == event.kind)
            #expect(!rejection.reason.isEmpty)
        case (let expected?, .failure(let rejection)):
            Issue.record("expected \(expected), got rejection: \(rejection)")
        case (nil, .success(let transition)):
            Issue.record("expected a rejection, got \(transition.state.phase) with \(transition.commands)")
        }
    }

    @Test func tableCoversEveryEventKind() {
        #expect(Set(Self.events.map(\.kind)) == Set(MigrationEvent.Kind.allCases))
    }

    @Test func cancelAfterThePointOfNoReturnSaysSo() throws {
        let result = PhaseMachine.apply(.cancelRequested(reason: "operator"), to: Self.state(.resuming))
        guard case .failure(let rejection) = result else {
            Issue.record("cancel in resuming must be refused")
            return
        }
        #expect(rejection.reason.contains("point of no return"))
    }

    @Test func sourceIsPreparedOnlyAfterTheDestination() throws {
        let result = PhaseMachine.apply(.sourcePrepared, to: Self.state(.preparing))
        #expect(throws: TransitionRejected.self) { try result.get() }
        var state = try PhaseMachine.apply(.destinationPrepared(dataAddress: "h:1"), to: Self.state(.preparing)).get()
            .state
        #expect(state.destinationAddress == "h:1")
        let start = try PhaseMachine.apply(.sourcePrepared, to: state).get()
        state = start.state
        #expect(state.phase == .precopy)
        #expect(start.commands.map(\.body) == [.startPrecopy(.defaults, throttlePercent: 0)])
        // PrepareSource carried the destination's address.
        let again = PhaseMachine.apply(.destinationPrepared(dataAddress: "h:2"), to: state)
        #expect(throws: TransitionRejected.self) { try again.get() }
    }

    @Test func happyPathEndsCompletedWithStrictlyIncreasingSeqs() throws {
        var state = MigrationState()
        var seqs: [UInt64] = []
        for event in [
            MigrationEvent.admitted, .started, .destinationPrepared(dataAddress: "b:7101"), .sourcePrepared,
            .policyAdjusted(.defaults, throttlePercent: 20), .cutoverStarted, .destinationConfirmed, .completed,
        ] {
            let t = try PhaseMachine.apply(event, to: state).get()
            seqs += t.commands.map(\.seq)
            state = t.state
        }
        #expect(state.phase == .completed)
        #expect(seqs == [1, 2, 3, 4])
        #expect(state.throttlePercent == 20)
    }

    @Test func cancelDuringPrecopyRollsBackThenEndsCancelled() throws {
        let cancel = try PhaseMachine.apply(.cancelRequested(reason: "operator asked"), to: Self.state(.precopy)).get()
        #expect(cancel.state.rollback == .cancel(reason: "operator asked"))
        #expect(cancel.commands.map(\.body) == [.abort(reason: "operator asked"), .abort(reason: "operator asked")])
        // A second cancel while rolling back sends nothing more.
        let repeatCancel = try PhaseMachine.apply(.cancelRequested(reason: "again"), to: cancel.state).get()
        #expect(repeatCancel.commands.isEmpty)
        // New progress is not accepted while rolling back.
        #expect(throws: TransitionRejected.self) {
            try PhaseMachine.apply(.policyAdjusted(.defaults, throttlePercent: 30), to: cancel.state).get()
        }
        let done = try PhaseMachine.apply(.rolledBack, to: repeatCancel.state).get()
        #expect(done.state.phase == .cancelled)
        #expect(done.state.reason == "operator asked")
        #expect(done.state.rollback == nil)
    }

    @Test func policyAbortEndsRolledBackAndAFailedRollbackEndsFailed() throws {
        let abort = try PhaseMachine.apply(.abortRequested(reason: "deadline"), to: Self.state(.cutover)).get()
        #expect(try PhaseMachine.apply(.rolledBack, to: abort.state).get().state.phase == .rolledBack)
        let failed = try PhaseMachine.apply(.agentFailed(role: .source, reason: "device in ERROR"), to: abort.state)
            .get()
        #expect(failed.state.phase == .failed)
        #expect(failed.state.reason.contains("device in ERROR"))
    }

    @Test func confirmationRacingAnAbortWins() throws {
        let abort = try PhaseMachine.apply(.cancelRequested(reason: "op"), to: Self.state(.cutover)).get()
        let confirmed = try PhaseMachine.apply(.destinationConfirmed, to: abort.state).get()
        #expect(confirmed.state.phase == .resuming)
        #expect(confirmed.state.rollback == nil)
        #expect(try PhaseMachine.apply(.completed, to: confirmed.state).get().state.phase == .completed)
    }
}
