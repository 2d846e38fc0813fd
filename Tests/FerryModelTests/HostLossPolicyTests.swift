import FerryModel
import Testing

/// ferryd's rule for agents that stay away, over every phase and who is away for how long.
@Suite("Host-loss policy")
struct HostLossPolicyTests {
    static func inputs(
        _ phase: MigrationPhase, rollingBack: Bool = false, source: Double? = nil, destination: Double? = nil,
        owes: Bool = false
    ) -> HostLossInputs {
        HostLossInputs(
            phase: phase, rollingBack: rollingBack, sourceHost: "host-a", destinationHost: "host-b",
            sourceUnreachableSeconds: source, destinationUnreachableSeconds: destination,
            destinationOwesAnswer: owes, windowSeconds: 60)
    }

    static func action(
        _ phase: MigrationPhase, rollingBack: Bool = false, source: Double? = nil, destination: Double? = nil,
        owes: Bool = false
    ) -> HostLossAction {
        HostLossPolicy.decide(
            inputs(phase, rollingBack: rollingBack, source: source, destination: destination, owes: owes)
        ).action
    }

    static let away: [(Double?, Double?)] = [(nil, nil), (59.9, nil), (nil, 59.9), (60, nil), (nil, 60), (61, 300)]

    @Test(arguments: [MigrationPhase.pending, .completed, .failed, .cancelled, .rolledBack])
    func nothingIsDecidedOutsideTheInFlightPhases(_ phase: MigrationPhase) {
        for (source, destination) in Self.away {
            #expect(Self.action(phase, source: source, destination: destination) == .wait)
            #expect(Self.action(phase, rollingBack: true, source: source, destination: destination) == .wait)
        }
    }

    @Test func anAdmittedMigrationGivesItsSlotsBackWhenAHostStaysAway() {
        #expect(Self.action(.scheduled, source: 59) == .wait)
        #expect(
            Self.action(.scheduled, destination: 60) == .requeue(reason: "destination host host-b unreachable for 60 s")
        )
        #expect(Self.action(.scheduled, source: 90) == .requeue(reason: "source host host-a unreachable for 90 s"))
    }

    @Test(arguments: [MigrationPhase.scheduled, .preparing, .precopy, .cutover, .resuming])
    func withinTheWindowEveryoneWaits(_ phase: MigrationPhase) {
        for (source, destination) in [(Double?.none, Double?.none), (59.9, nil), (nil, 59.9), (59.9, 59.9)] {
            for rollingBack in [false, true] {
                #expect(
                    Self.action(phase, rollingBack: rollingBack, source: source, destination: destination) == .wait)
            }
        }
    }

    @Test(arguments: [MigrationPhase.preparing, .precopy, .cutover])
    func beforeThePointOfNoReturnEitherSideGoneStartsARollback(_ phase: MigrationPhase) {
        #expect(Self.action(phase, source: 60) == .abort(reason: "source host host-a unreachable for 60 s"))
        #expect(
            Self.action(phase, destination: 75.25) == .abort(reason: "destination host host-b unreachable for 75.3 s"))
        #expect(
            Self.action(phase, source: 61, destination: 300)
                == .abort(
                    reason: "source host host-a unreachable for 61 s and destination host host-b unreachable for 300 s")
        )
    }

    @Test(arguments: [MigrationPhase.preparing, .precopy, .cutover])
    func duringARollbackALostSourceEndsItOnceTheDestinationIsSettled(_ phase: MigrationPhase) {
        // The destination still owes its answer to the Abort (it might say "too late, I run it").
        #expect(Self.action(phase, rollingBack: true, source: 60, owes: true) == .wait)
        guard case .giveUp(.source, let reason) = Self.action(phase, rollingBack: true, source: 60) else {
            Issue.record("expected giveUp(source)")
            return
        }
        #expect(reason.hasPrefix("source host host-a unreachable for 60 s: its agent rolls back by itself"))
        // Both gone: nobody can answer, end it.
        if case .giveUp(.source, _) = Self.action(phase, rollingBack: true, source: 60, destination: 60, owes: true) {
        } else {
            Issue.record("both gone: expected giveUp(source)")
        }
        // Only the destination gone: the source's own report ends the rollback.
        #expect(Self.action(phase, rollingBack: true, destination: 600, owes: true) == .wait)
    }

    @Test func afterThePointOfNoReturnOnlyALostSourceMatters() {
        #expect(Self.action(.resuming, destination: 600) == .wait)
        guard case .giveUp(.source, let reason) = Self.action(.resuming, source: 60, destination: 5) else {
            Issue.record("expected giveUp(source)")
            return
        }
        #expect(reason.contains("the VM runs on host-b"))
    }

    @Test func theDecisionCarriesItsInputs() {
        let d = HostLossPolicy.decide(Self.inputs(.precopy, source: 61.5, destination: 2))
        #expect(
            d.inputs == [
                "decision": "host_unreachable", "window_s": "60", "phase": "precopy", "rolling_back": "false",
                "source_unreachable_s": "61.5", "destination_unreachable_s": "2",
            ])
    }
}
