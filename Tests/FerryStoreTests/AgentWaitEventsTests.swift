import FerryModel
import FerryStore
import Foundation
import Testing

/// The start-up read of the agents ferryd gave up on: exactly the give-ups and the reports on
/// return, in history order, through the partial index.
@Suite("Store: events of agents given up on")
struct AgentWaitEventsTests {
    static func event(_ migrationID: String, kind: String, _ attributes: [String: String]) -> Event {
        Event(
            at: PlanFixtures.t0, planID: "p-1", migrationID: migrationID, kind: kind, message: kind,
            attributes: attributes)
    }

    @Test func onlyGiveUpsAndReportsOnReturnAreRead() throws {
        let store = try SQLiteStore.inMemory()
        try store.submitPlan(
            PlanFixtures.plan(),
            migrations: [PlanFixtures.migration("m1", position: 0), PlanFixtures.migration("m2", position: 1)],
            events: [])
        let abort = AgentCommand(role: .source, seq: 4, body: .abort(reason: "source host a unreachable"))
        let givenUp = GivenUpAgent(role: .source, unansweredAbort: abort)
        try store.appendEvent(Self.event("m1", kind: "abort_requested", ["decision": "host_unreachable"]))
        try store.appendEvent(
            Self.event("m1", kind: "phase_changed", givenUp.attributes.merging(["to": "failed"]) { a, _ in a }))
        try store.appendEvent(Self.event("m2", kind: "phase_changed", ["to": "completed"]))
        try store.appendEvent(Self.event("m1", kind: "agent_queried", ["commands": "source:query_migration#6"]))
        try store.appendEvent(Self.event("m1", kind: GivenUpAgent.reconciledKind, ["role": "source"]))

        let read = try store.agentWaitEvents()
        #expect(read.map(\.kind) == ["phase_changed", GivenUpAgent.reconciledKind])
        #expect(read.map(\.seq) == read.map(\.seq).sorted())
        #expect(GivenUpAgent(attributes: read[0].attributes) == givenUp)
        #expect(GivenUpAgent.awaited(in: read).isEmpty)
        #expect(GivenUpAgent.awaited(in: Array(read.prefix(1))) == ["m1": [.source: givenUp]])
    }

    @Test func theReadUsesThePartialIndex() throws {
        let store = try SQLiteStore.inMemory()
        let plan = try store.explain(
            "SELECT * FROM events WHERE kind = 'agent_reconciled' OR json_extract(attributes, '$.given_up') IS NOT NULL ORDER BY seq"
        )
        #expect(plan.contains { $0.contains("events_agent_waits") }, "\(plan)")
    }
}
