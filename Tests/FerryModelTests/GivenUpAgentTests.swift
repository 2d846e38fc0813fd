import FerryModel
import Foundation
import Testing

/// What ferryd remembers of an agent it gave up on, and what a restarted ferryd derives from the history.
@Suite("Agents given up on")
struct GivenUpAgentTests {
    static let abort = AgentCommand(role: .source, seq: 4, body: .abort(reason: "source host host-a unreachable"))

    static func event(
        _ seq: Int64, _ migrationID: String, kind: String = "phase_changed", _ attributes: [String: String]
    )
        -> Event
    {
        Event(
            seq: seq, at: Date(timeIntervalSince1970: 1_764_000_000), planID: "p-1", migrationID: migrationID,
            kind: kind, message: "", attributes: attributes)
    }

    static func givenUp(_ seq: Int64, _ migrationID: String, _ agent: GivenUpAgent) -> Event {
        event(
            seq, migrationID, agent.attributes.merging(["decision": "host_unreachable", "to": "failed"]) { a, _ in a })
    }

    static func reconciled(_ seq: Int64, _ migrationID: String, _ role: MigrationRole) -> Event {
        event(
            seq, migrationID, kind: GivenUpAgent.reconciledKind, ["role": role.rawValue, "agent_phase": "rolled_back"])
    }

    @Test(
        "the attributes hold the role and the unanswered Abort (seq and reason), and read back the same",
        arguments: [
            GivenUpAgent(role: .source, unansweredAbort: abort),
            GivenUpAgent(role: .source, unansweredAbort: nil),
            GivenUpAgent(
                role: .destination, unansweredAbort: AgentCommand(role: .destination, seq: 9, body: .abort(reason: ""))),
        ])
    func roundTrip(_ agent: GivenUpAgent) {
        #expect(GivenUpAgent(attributes: agent.attributes) == agent)
        #expect(agent.attributes["given_up"] == agent.role.rawValue)
        #expect(agent.attributes["given_up_abort_seq"] == agent.unansweredAbort.map { String($0.seq) })
    }

    @Test("only an Abort to the agent itself is kept as its unanswered command")
    func onlyItsOwnAbort() {
        let query = AgentCommand(role: .source, seq: 6, body: .queryMigration)
        #expect(GivenUpAgent(role: .source, unansweredAbort: query).unansweredAbort == nil)
        #expect(GivenUpAgent(role: .destination, unansweredAbort: Self.abort).unansweredAbort == nil)
        #expect(GivenUpAgent(role: .source, unansweredAbort: Self.abort).unansweredAbort == Self.abort)
    }

    @Test(
        "events that are no give-up, or a malformed one, read as none",
        arguments: [
            [:], ["decision": "host_unreachable"], ["given_up": "observer"],
            ["given_up": "source", "given_up_abort_seq": "x"],
            ["given_up": "source", "given_up_abort_seq": "0"], ["given_up": "source", "given_up_abort_seq": "-4"],
        ])
    func notAGiveUp(_ attributes: [String: String]) {
        #expect(GivenUpAgent(attributes: attributes) == nil)
    }

    @Test("a give-up is awaited until that role's report on that migration is recorded")
    func awaitedUntilReconciled() {
        let source = GivenUpAgent(role: .source, unansweredAbort: Self.abort)
        let destination = GivenUpAgent(role: .destination, unansweredAbort: nil)
        #expect(GivenUpAgent.awaited(in: []).isEmpty)
        #expect(GivenUpAgent.awaited(in: [Self.givenUp(10, "m-1", source)]) == ["m-1": [.source: source]])
        // Another role's report, or another migration's, does not end the wait.
        #expect(
            GivenUpAgent.awaited(in: [
                Self.givenUp(10, "m-1", source), Self.reconciled(11, "m-1", .destination),
                Self.reconciled(12, "m-2", .source),
            ]) == ["m-1": [.source: source]])
        #expect(
            GivenUpAgent.awaited(in: [Self.givenUp(10, "m-1", source), Self.reconciled(11, "m-1", .source)]).isEmpty)
        // History order is by seq, whatever order the events come in.
        #expect(
            GivenUpAgent.awaited(in: [Self.reconciled(11, "m-1", .source), Self.givenUp(10, "m-1", source)]).isEmpty)
        // A report recorded before the give-up (an earlier one) does not end it.
        #expect(
            GivenUpAgent.awaited(in: [Self.reconciled(9, "m-1", .source), Self.givenUp(10, "m-1", source)])
                == ["m-1": [.source: source]])
        #expect(
            GivenUpAgent.awaited(in: [
                Self.givenUp(10, "m-1", source), Self.givenUp(20, "m-2", destination),
                Self.reconciled(21, "m-1", .source),
            ]) == ["m-2": [.destination: destination]])
        // A reconciled event without a valid role changes nothing; plan-level events are never give-ups.
        #expect(
            GivenUpAgent.awaited(in: [
                Self.givenUp(10, "m-1", source), Self.event(11, "m-1", kind: GivenUpAgent.reconciledKind, [:]),
                Self.givenUp(12, "", destination),
            ]) == ["m-1": [.source: source]])
    }
}
