import FerryCoordinator
import FerryModel
import FerryStore
import FerryWire
import Foundation
import Logging
import Synchronization
import Testing

/// An AgentCommandLink that records what the driver sends and whose hosts connect when told.
final class FakeCommandLink: AgentCommandLink {
    struct Sent: Equatable {
        var host: String
        var seq: UInt64
        var body: String
    }

    private struct State {
        var connected: Set<String>
        var sent: [Sent] = []
    }

    private let state: Mutex<State>

    init(connected: Set<String>) { state = Mutex(State(connected: connected)) }

    var sent: [Sent] { state.withLock { $0.sent } }
    func setConnected(_ host: String, _ connected: Bool) {
        state.withLock { s in
            if connected { s.connected.insert(host) } else { s.connected.remove(host) }
        }
    }
    func clearSent() { state.withLock { $0.sent.removeAll() } }

    func send(_ command: Ferry_V1_Command, to hostID: String) async -> Bool {
        state.withLock { s in
            guard s.connected.contains(hostID) else { return false }
            s.sent.append(Sent(host: hostID, seq: command.seq, body: Self.bodyName(command)))
            return true
        }
    }

    func reportedVM(_ vmID: String, on hostID: String) async -> (vm: Ferry_V1_Vm, devices: [Ferry_V1_Device])? {
        var vm = Ferry_V1_Vm()
        vm.vmID = vmID
        vm.ramBytes = 64 << 20
        vm.vcpus = 2
        return (vm, [])
    }

    func isConnected(_ hostID: String) async -> Bool { state.withLock { $0.connected.contains(hostID) } }

    /// The command's body by `AgentCommandBody.name` (the driver's own names for the proto oneof).
    static func bodyName(_ command: Ferry_V1_Command) -> String {
        let body: AgentCommandBody? =
            switch command.body {
            case .prepareDestination: .prepareDestination
            case .prepareSource(let b): .prepareSource(destinationAddress: b.destinationAddress)
            case .startPrecopy(let b): .startPrecopy(.defaults, throttlePercent: b.policy.throttlePercent)
            case .adjustPolicy(let b): .adjustPolicy(.defaults, throttlePercent: b.policy.throttlePercent)
            case .forceCutover: .forceCutover
            case .abort(let b): .abort(reason: b.reason)
            case .queryMigration: .queryMigration
            case nil: nil
            }
        return body?.name ?? "none"
    }
}

/// MigrationDriver against a fake link and a real (in-memory) store: results that are stale or out
/// of order, failures while rolling back, reconnects and restarts that re-send the same seq.
@Suite("MigrationDriver with a fake agent link")
struct MigrationDriverUnitTests {
    static let migrationID = "m-1"

    struct Fixture {
        let store: SQLiteStore
        let link: FakeCommandLink
        let context: DriverContext
        let migration: Migration
        let policy = MigrationPolicy.defaults
    }

    static func fixture(connected: Set<String> = ["host-a", "host-b"]) throws -> Fixture {
        let store = try SQLiteStore.inMemory()
        let plan = Plan(
            id: "p-1", name: "move", fileName: "plan.yaml", source: "name: move\n", policy: .defaults,
            submittedAt: Date(timeIntervalSince1970: 1_764_000_000))
        let migration = Migration(
            id: migrationID, planID: "p-1", position: 0, vmID: "vm-1", sourceHostID: "host-a",
            destinationHostID: "host-b", wave: 1, priority: 0, ramBytes: 64 << 20)
        try store.submitPlan(plan, migrations: [migration], events: [])
        let link = FakeCommandLink(connected: connected)
        let context = DriverContext(
            store: store, link: link, clock: ManualClock(), logger: Logger(label: "driver-test"))
        return Fixture(store: store, link: link, context: context, migration: migration)
    }

    static func driver(_ f: Fixture) throws -> MigrationDriver {
        let stored = try #require(try f.store.migration(id: migrationID))
        return MigrationDriver(
            migration: stored, policy: f.policy, runtime: try f.store.runtime(migrationID: migrationID),
            progress: try f.store.progress(migrationID: migrationID), context: f.context)
    }

    static func result(_ seq: UInt64, error: Ferry_V1_ErrorCode? = nil, address: String = "") -> MigrationReport {
        var r = Ferry_V1_CommandResult()
        r.migrationID = migrationID
        r.seq = seq
        r.dataAddress = address
        if let error {
            r.error.code = error
            r.error.message = "refused by the test"
        }
        return .commandResult(r)
    }

    static func progress(_ phase: Ferry_V1_AgentPhase) -> MigrationReport {
        var p = Ferry_V1_Progress()
        p.migrationID = migrationID
        p.phase = phase
        return .progress(p)
    }

    /// Admitted, started, both sides prepared: in pre-copy with seqs 1...3 used.
    static func inPrecopy(_ f: Fixture) async throws -> MigrationDriver {
        let driver = try driver(f)
        _ = await driver.handle(.admitted)
        #expect(await driver.startIfReady())
        await driver.deliver(result(1, address: "127.0.0.1:7101"), from: "host-b")
        await driver.deliver(result(2), from: "host-a")
        #expect(await driver.phase == .precopy)
        return driver
    }

    @Test("stale, unknown and repeated results are ignored; the right seq moves the migration on")
    func staleResultsIgnored() async throws {
        let f = try Self.fixture()
        let driver = try Self.driver(f)
        _ = await driver.handle(.admitted)
        #expect(await driver.startIfReady())
        #expect(f.link.sent == [.init(host: "host-b", seq: 1, body: "prepare_destination")])

        // A result for a seq never issued, and one from a future seq: nothing happens.
        await driver.deliver(Self.result(7, address: "10.0.0.9:1"), from: "host-b")
        #expect(await driver.phase == .preparing)
        #expect(f.link.sent.count == 1)

        await driver.deliver(Self.result(1, address: "127.0.0.1:7101"), from: "host-b")
        #expect(f.link.sent.last == .init(host: "host-a", seq: 2, body: "prepare_source"))
        // The repeat's answer (the agent answered seq 1 again from its record) is not a second event.
        await driver.deliver(Self.result(1, address: "127.0.0.1:7101"), from: "host-b")
        #expect(f.link.sent.count == 2)
        #expect(await driver.phase == .preparing)

        await driver.deliver(Self.result(2), from: "host-a")
        #expect(await driver.phase == .precopy)
        #expect(f.link.sent.last == .init(host: "host-a", seq: 3, body: "start_precopy"))

        // STALE_COMMAND means the agent executed something newer already: no failure, no rollback.
        await driver.deliver(Self.result(3, error: .staleCommand), from: "host-a")
        #expect(await driver.phase == .precopy)
        #expect(f.link.sent.count == 3)
        let stored = try #require(try f.store.migration(id: Self.migrationID))
        #expect(stored.phase == .precopy && stored.commandSeq == 3)
    }

    @Test("the source refusing Abort during a cancel ends the migration failed, with both reasons")
    func sourceFailsDuringRollback() async throws {
        let f = try Self.fixture()
        let driver = try await Self.inPrecopy(f)
        #expect((try? await driver.cancel(reason: "operator").get()) != nil)
        #expect(
            Array(f.link.sent.suffix(2)) == [
                .init(host: "host-a", seq: 4, body: "abort"), .init(host: "host-b", seq: 5, body: "abort"),
            ])
        await driver.deliver(Self.result(4, error: .device), from: "host-a")
        #expect(await driver.phase == .failed)
        let stored = try #require(try f.store.migration(id: Self.migrationID))
        #expect(stored.phase == .failed)
        #expect(stored.reason.contains("rollback failed on the source") && stored.reason.contains("operator"))
        // A late rolled_back report cannot revive it.
        await driver.deliver(Self.progress(.rolledBack), from: "host-a")
        #expect(await driver.phase == .failed)
    }

    @Test("the destination refusing Abort does not decide: the source's rolled_back ends it cancelled")
    func destinationFailsDuringRollback() async throws {
        let f = try Self.fixture()
        let driver = try await Self.inPrecopy(f)
        _ = await driver.cancel(reason: "operator")
        await driver.deliver(Self.result(5, error: .internal), from: "host-b")
        #expect(await driver.phase == .precopy)
        await driver.deliver(Self.progress(.rolledBack), from: "host-a")
        #expect(await driver.phase == .cancelled)
        #expect(try f.store.migration(id: Self.migrationID)?.reason == "operator")
    }

    @Test("a command for a disconnected agent is sent on reconnect with the same seq, once")
    func reconnectResendsSameSeq() async throws {
        let f = try Self.fixture()
        let driver = try Self.driver(f)
        _ = await driver.handle(.admitted)
        #expect(await driver.startIfReady())
        f.link.setConnected("host-a", false)
        await driver.deliver(Self.result(1, address: "127.0.0.1:7101"), from: "host-b")
        #expect(f.link.sent.map(\.seq) == [1], "sent to a host without a connection")

        f.link.setConnected("host-a", true)
        await driver.hostConnected("host-a")
        #expect(f.link.sent.last == .init(host: "host-a", seq: 2, body: "prepare_source"))
        // The other host reconnecting sends nothing: it has no command outstanding.
        await driver.hostConnected("host-b")
        #expect(f.link.sent.count == 2)
        // Answered: a further reconnect does not send it again.
        await driver.deliver(Self.result(2), from: "host-a")
        await driver.deliver(Self.result(3), from: "host-a")
        f.link.clearSent()
        await driver.hostConnected("host-a")
        #expect(f.link.sent.allSatisfy { $0.seq > 3 && $0.body == "query_migration" }, "\(f.link.sent)")
    }

    @Test("a driver rebuilt from the store (ferryd restart) re-sends the unanswered prepare with its seq")
    func restartInPreparingResendsSameSeq() async throws {
        let f = try Self.fixture()
        let first = try Self.driver(f)
        _ = await first.handle(.admitted)
        #expect(await first.startIfReady())
        await first.deliver(Self.result(1, address: "127.0.0.1:7101"), from: "host-b")
        f.link.clearSent()

        let restarted = try Self.driver(f)
        #expect(await restarted.phase == .preparing)
        await restarted.recover()
        #expect(f.link.sent == [.init(host: "host-a", seq: 2, body: "prepare_source")])
        await restarted.deliver(Self.result(2), from: "host-a")
        #expect(await restarted.phase == .precopy)
        #expect(f.link.sent.last == .init(host: "host-a", seq: 3, body: "start_precopy"))
    }

    @Test("a driver rebuilt in pre-copy queries both agents with fresh seqs and follows their reports")
    func restartInPrecopyQueries() async throws {
        let f = try Self.fixture()
        _ = try await Self.inPrecopy(f)
        f.link.clearSent()
        let restarted = try Self.driver(f)
        await restarted.recover()
        #expect(
            f.link.sent == [
                .init(host: "host-a", seq: 4, body: "query_migration"),
                .init(host: "host-b", seq: 5, body: "query_migration"),
            ])
        // The source finished while ferryd was away: its report walks the migration to the end.
        await restarted.deliver(Self.progress(.completed), from: "host-a")
        #expect(await restarted.phase == .completed)
        #expect(try f.store.migration(id: Self.migrationID)?.phase == .completed)
    }
}
