import FerryCoordinator
import FerryModel
import FerryStore
import FerryWire
import Foundation
import Testing

/// MigrationDriver and agents that stay unreachable past the host-loss window (60 s, manual clock).
@Suite("MigrationDriver: agents that stay away")
struct HostLossDriverTests {
    typealias U = MigrationDriverUnitTests

    static func clock(_ f: U.Fixture) -> ManualClock { f.context.clock as! ManualClock }

    static func events(_ f: U.Fixture) throws -> [Event] {
        try f.store.events(planID: nil, migrationID: U.migrationID, afterSeq: 0, limit: 100)
    }

    @Test(
        "a source gone past the window: rollback, then failed once the destination let go; its report on return is recorded"
    )
    func lostSource() async throws {
        let f = try U.fixture()
        let driver = try await U.inPrecopy(f)
        await driver.deliver(U.result(3), from: "host-a")
        f.link.setConnected("host-a", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(59))
        await driver.tick()
        #expect(await driver.phase == .precopy)
        #expect(f.link.sent.count == 3, "nothing may happen inside the window")

        Self.clock(f).advance(by: .seconds(1))
        await driver.tick()
        // Abort to both; only the destination is reachable now.
        #expect(f.link.sent.last == .init(host: "host-b", seq: 5, body: "abort"))
        let decided = try #require(try Self.events(f).last)
        #expect(decided.kind == "abort_requested")
        #expect(decided.attributes["decision"] == "host_unreachable")
        #expect(decided.attributes["source_unreachable_s"] == "60")
        #expect(decided.message.contains("source host host-a unreachable for 60 s"), "\(decided.message)")

        // The destination has not answered its Abort yet: wait for it.
        Self.clock(f).advance(by: .seconds(5))
        await driver.tick()
        #expect(await driver.phase == .precopy)
        await driver.deliver(U.result(5), from: "host-b")
        await driver.tick()
        #expect(await driver.phase == .failed)
        let stored = try #require(try f.store.migration(id: U.migrationID))
        #expect(stored.reason.hasPrefix("rollback failed on the source: source host host-a unreachable for 65 s"))
        #expect(!(await driver.canBeDropped), "the source's report is still awaited")

        // The source returns: it gets the Abort it missed (same seq), then a query.
        f.link.clearSent()
        f.link.setConnected("host-a", true)
        await driver.hostConnected("host-a")
        #expect(
            f.link.sent == [
                .init(host: "host-a", seq: 4, body: "abort"), .init(host: "host-a", seq: 6, body: "query_migration"),
            ])
        // Still mid-round when it answers: not an outcome yet, keep waiting for one.
        await driver.deliver(U.progress(.precopy), from: "host-a")
        #expect(!(await driver.canBeDropped))
        await driver.deliver(U.progress(.rolledBack), from: "host-a")
        #expect(await driver.phase == .failed, "the ending stays")
        #expect(await driver.canBeDropped)
        let reconciled = try #require(try Self.events(f).last)
        #expect(reconciled.kind == "agent_reconciled")
        #expect(reconciled.attributes["agent_phase"] == "rolled_back")
        #expect(reconciled.message.contains("reports rolled back: the VM runs on host-a"), "\(reconciled.message)")
    }

    /// A source given up on (Abort seq 4 unanswered) with the migration ended `failed`.
    static func sourceGivenUp(_ f: U.Fixture) async throws {
        let driver = try await U.inPrecopy(f)
        await driver.deliver(U.result(3), from: "host-a")
        f.link.setConnected("host-a", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(60))
        await driver.tick()
        await driver.deliver(U.result(5), from: "host-b")
        await driver.tick()
        #expect(await driver.phase == .failed)
        let ended = try #require(try Self.events(f).last)
        #expect(ended.attributes["given_up"] == "source" && ended.attributes["given_up_abort_seq"] == "4")
    }

    @Test("ferryd restarted between giving up on the source and its return: the return is reconciled the same way")
    func lostSourceAcrossRestart() async throws {
        let f = try U.fixture()
        try await Self.sourceGivenUp(f)
        f.link.clearSent()

        // A new supervisor on the same store: what the restarted ferryd knows is what was stored.
        let restarted = MigrationSupervisor(context: f.context)
        await restarted.recover()
        #expect(f.link.sent.isEmpty, "host-a is still away")
        f.link.setConnected("host-a", true)
        await restarted.hostConnected("host-a")
        #expect(
            f.link.sent == [
                .init(host: "host-a", seq: 4, body: "abort"), .init(host: "host-a", seq: 6, body: "query_migration"),
            ])
        await restarted.deliver(U.progress(.rolledBack), from: "host-a")
        let reconciled = try #require(try Self.events(f).last)
        #expect(reconciled.kind == "agent_reconciled")
        #expect(reconciled.attributes["agent_phase"] == "rolled_back")
        #expect(try f.store.migration(id: U.migrationID)?.phase == .failed, "the ending stays")

        // Reconciled: a further restart awaits nothing, and the agent's next return sends nothing.
        f.link.clearSent()
        let again = MigrationSupervisor(context: f.context)
        await again.recover()
        await again.hostConnected("host-a")
        #expect(f.link.sent.isEmpty)
    }

    @Test("the given-up source came back while ferryd was down: reconciled at start, the query is not doubled")
    func lostSourceBackBeforeRestart() async throws {
        let f = try U.fixture()
        try await Self.sourceGivenUp(f)
        f.link.clearSent()
        f.link.setConnected("host-a", true)
        let restarted = MigrationSupervisor(context: f.context)
        await restarted.recover()
        #expect(
            f.link.sent == [
                .init(host: "host-a", seq: 4, body: "abort"), .init(host: "host-a", seq: 6, body: "query_migration"),
            ])
        // Its connection is announced after the start: the same two commands again (same seqs, so the
        // agent answers them from its record), no new query.
        await restarted.hostConnected("host-a")
        #expect(Array(f.link.sent.dropFirst(2)) == Array(f.link.sent.prefix(2)))
        #expect(try f.store.migration(id: U.migrationID)?.commandSeq == 6)
        // No record on the agent (it restarted too): recorded as such.
        await restarted.deliver(U.result(6, error: .unknownMigration), from: "host-a")
        let reconciled = try #require(try Self.events(f).last)
        #expect(reconciled.kind == "agent_reconciled" && reconciled.attributes["agent_phase"] == "unknown")
    }

    @Test("a source given up on while preparing gets only its Abort and a query on return, not the stale prepare")
    func lostSourceWhilePreparing() async throws {
        let f = try U.fixture()
        let driver = try U.driver(f)
        _ = await driver.handle(.admitted)
        #expect(await driver.startIfReady())
        f.link.setConnected("host-a", false)
        await driver.deliver(U.result(1, address: "127.0.0.1:7101"), from: "host-b")
        await driver.tick()
        Self.clock(f).advance(by: .seconds(60))
        await driver.tick()
        await driver.deliver(U.result(4), from: "host-b")
        await driver.tick()
        #expect(await driver.phase == .failed)
        // prepare_source #2 and abort #3 never reached host-a; only the Abort matters now.
        f.link.clearSent()
        f.link.setConnected("host-a", true)
        await driver.hostConnected("host-a")
        #expect(
            f.link.sent == [
                .init(host: "host-a", seq: 3, body: "abort"), .init(host: "host-a", seq: 5, body: "query_migration"),
            ])
    }

    @Test("a destination gone past the window: the source rolls back and its report ends it rolled_back")
    func lostDestination() async throws {
        let f = try U.fixture()
        let driver = try await U.inPrecopy(f)
        f.link.setConnected("host-b", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(61))
        await driver.tick()
        #expect(f.link.sent.last == .init(host: "host-a", seq: 4, body: "abort"))
        // Long after, still no decision without the source's word: the source is reachable.
        Self.clock(f).advance(by: .seconds(600))
        await driver.tick()
        #expect(await driver.phase == .precopy)
        await driver.deliver(U.progress(.rolledBack), from: "host-a")
        #expect(await driver.phase == .rolledBack)
        #expect(try f.store.migration(id: U.migrationID)?.reason == "destination host host-b unreachable for 61 s")
        #expect(await driver.canBeDropped)
    }

    @Test("a destination that answers the Abort with 'too late' is asked, and its report wins")
    func destinationAlreadyRunsIt() async throws {
        let f = try U.fixture()
        let driver = try await U.inPrecopy(f)
        f.link.setConnected("host-a", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(60))
        await driver.tick()
        await driver.deliver(U.result(5, error: .unexpectedMessage), from: "host-b")
        #expect(f.link.sent.last == .init(host: "host-b", seq: 6, body: "query_migration"))
        // The query is outstanding: no giving up on the source meanwhile.
        await driver.tick()
        #expect(await driver.phase == .precopy)
        await driver.deliver(U.progress(.completed), from: "host-b")
        #expect(await driver.phase == .resuming, "the destination runs the VM: past the point of no return")
        // Still no source after the window: failed, saying where the VM runs.
        Self.clock(f).advance(by: .seconds(1))
        await driver.tick()
        #expect(await driver.phase == .failed)
        let reason = try #require(try f.store.migration(id: U.migrationID)?.reason)
        #expect(reason.contains("the VM runs on host-b"), "\(reason)")
    }

    @Test("admitted but not started while a host is away: back to pending after the window, slots freed")
    func scheduledRequeued() async throws {
        let f = try U.fixture(connected: ["host-a"])
        let driver = try U.driver(f)
        _ = await driver.handle(.admitted)
        #expect(!(await driver.startIfReady()), "the destination is not connected")
        await driver.tick()
        Self.clock(f).advance(by: .seconds(60))
        await driver.tick()
        #expect(await driver.phase == .pending)
        #expect(f.link.sent.isEmpty)
        let requeued = try #require(try Self.events(f).last)
        #expect(requeued.message.hasPrefix("scheduled → pending (requeued)"), "\(requeued.message)")
        #expect(requeued.attributes["reason"] == "destination host host-b unreachable for 60 s")
        // Admitted again once it is back, and it starts.
        f.link.setConnected("host-b", true)
        _ = await driver.handle(.admitted)
        #expect(await driver.startIfReady())
        #expect(f.link.sent == [.init(host: "host-b", seq: 1, body: "prepare_destination")])
    }

    @Test("an agent back inside the window resets its clock")
    func backInTime() async throws {
        let f = try U.fixture()
        let driver = try await U.inPrecopy(f)
        f.link.setConnected("host-a", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(50))
        f.link.setConnected("host-a", true)
        await driver.tick()
        f.link.setConnected("host-a", false)
        await driver.tick()
        Self.clock(f).advance(by: .seconds(50))
        await driver.tick()
        #expect(await driver.phase == .precopy)
        #expect(f.link.sent.count == 3)
    }
}
