import FerryModel
import FerryStore
import FerryWire
import Foundation
import Logging
import Testing

@testable import FerryCoordinator

@Suite struct HostRegistryTests {
    let store = InMemoryHostStore()
    let clock = ManualClock()
    /// 1 s heartbeats, 3 misses: silent for more than 3 s is gone.
    let settings = LinkSettings(coordinatorID: "t", heartbeatIntervalMs: 1000, heartbeatMissLimit: 3)
    var registry: HostRegistry {
        HostRegistry(store: store, clock: clock, settings: settings, logger: Logger(label: "test"))
    }

    static func registration(_ host: String = "host-a", boot: String = "boot-1") -> AgentSession.Registration {
        .init(hostID: host, bootID: boot, agentVersion: "0.1.0", protocolVersion: 1)
    }

    func register(
        _ registry: HostRegistry, _ host: String = "host-a", boot: String = "boot-1", connection: UInt64,
        handle: RecordingConnection = RecordingConnection()
    ) async -> AgentSession.RegistrationDecision {
        await registry.register(
            Self.registration(host, boot: boot), connection: ConnectionID(connection),
            remoteAddress: "127.0.0.1:\(4000 + connection)",
            handle: handle)
    }

    @Test("registration stores a ready host with the agent's identity")
    func registers() async throws {
        let registry = registry
        #expect(await register(registry, connection: 1) == .accepted)
        let host = try #require(try store.host(id: "host-a"))
        #expect(host.status == .ready)
        #expect(host.agentVersion == "0.1.0")
        #expect(host.controlAddress == "127.0.0.1:4001")
        #expect(host.firstSeen == clock.wallNow())
        #expect(await registry.liveHostIDs() == ["host-a"])
    }

    @Test("a live host with a different boot id is a duplicate; the first connection keeps it")
    func duplicate() async throws {
        let registry = registry
        let first = RecordingConnection()
        _ = await register(registry, connection: 1, handle: first)
        clock.advance(by: .seconds(1))
        let decision = await register(registry, boot: "boot-2", connection: 2)
        guard case .rejected(.duplicateHost, let message) = decision else {
            Issue.record("expected duplicateHost, got \(decision)")
            return
        }
        #expect(message.contains("boot-1"))
        #expect(first.evictions.isEmpty)
        #expect(try store.host(id: "host-a")?.controlAddress == "127.0.0.1:4001")
    }

    @Test("the same boot id replaces the old connection, whose later close changes nothing")
    func replacementSameBoot() async throws {
        let registry = registry
        let first = RecordingConnection()
        _ = await register(registry, connection: 1, handle: first)
        #expect(await register(registry, connection: 2) == .accepted)
        #expect(first.evictions == [.replaced])
        await registry.connectionClosed(hostID: "host-a", connection: ConnectionID(1), reason: .evicted(.replaced))
        #expect(try store.host(id: "host-a")?.status == .ready)
        #expect(try store.host(id: "host-a")?.controlAddress == "127.0.0.1:4002")
    }

    @Test("a silent old connection is replaced even with a different boot id")
    func replacementStale() async throws {
        let registry = registry
        let first = RecordingConnection()
        _ = await register(registry, connection: 1, handle: first)
        clock.advance(by: .milliseconds(3001))
        #expect(await register(registry, boot: "boot-2", connection: 2) == .accepted)
        #expect(first.evictions == [.replaced])
    }

    @Test("closing the current connection marks the host unreachable; returning makes it ready")
    func closeAndReturn() async throws {
        let registry = registry
        _ = await register(registry, connection: 1)
        clock.advance(by: .seconds(10))
        await registry.connectionClosed(hostID: "host-a", connection: ConnectionID(1), reason: .peerClosed)
        let gone = try #require(try store.host(id: "host-a"))
        #expect(gone.status == .unreachable)
        #expect(gone.statusChangedAt == clock.wallNow())
        #expect(await registry.liveHostIDs() == [])
        clock.advance(by: .seconds(5))
        #expect(await register(registry, boot: "boot-2", connection: 2) == .accepted)
        let back = try #require(try store.host(id: "host-a"))
        #expect(back.status == .ready)
        #expect(back.statusChangedAt == clock.wallNow())
        #expect(back.firstSeen == gone.firstSeen)
    }

    @Test("sweep: silent for miss_limit intervals is fine, a moment more is unreachable and dropped")
    func missLimit() async throws {
        let registry = registry
        let handle = RecordingConnection()
        _ = await register(registry, connection: 1, handle: handle)
        clock.advance(by: .seconds(3))
        #expect(await registry.sweep() == [])
        #expect(try store.host(id: "host-a")?.status == .ready)
        clock.advance(by: .milliseconds(1))
        #expect(await registry.sweep() == ["host-a"])
        #expect(try store.host(id: "host-a")?.status == .unreachable)
        #expect(handle.evictions == [.silent(for: .milliseconds(3001))])
        // The dropped connection's close arrives later and changes nothing more.
        let changes = store.counts.statusChanges
        await registry.connectionClosed(hostID: "host-a", connection: ConnectionID(1), reason: .evicted(.replaced))
        #expect(store.counts.statusChanges == changes)
    }

    @Test("heartbeats keep a host alive across many intervals")
    func heartbeatsKeepAlive() async throws {
        let registry = registry
        _ = await register(registry, connection: 1)
        for _ in 0..<10 {
            clock.advance(by: .seconds(2))
            await registry.recordHeartbeat(freeMemoryBytes: 5, hostID: "host-a", connection: ConnectionID(1))
            #expect(await registry.sweep() == [])
        }
        #expect(try store.host(id: "host-a")?.status == .ready)
    }

    @Test("heartbeats are written once per flush, all hosts in one transaction, the newest of each")
    func heartbeatsBatched() async throws {
        let registry = registry
        _ = await register(registry, "host-a", connection: 1)
        _ = await register(registry, "host-b", connection: 2)
        for i in 0..<4 {  // 4 heartbeats each, 250 ms apart, then one flush
            clock.advance(by: .milliseconds(250))
            await registry.recordHeartbeat(freeMemoryBytes: UInt64(i), hostID: "host-a", connection: ConnectionID(1))
            await registry.recordHeartbeat(freeMemoryBytes: 70, hostID: "host-b", connection: ConnectionID(2))
        }
        #expect(store.counts.batchedTouches == 0)
        #expect(await registry.flushHeartbeats() == ["host-a", "host-b"])
        #expect(store.counts.batchedTouches == 1)
        #expect(store.counts.touches == 0)
        #expect(try store.host(id: "host-a")?.freeMemoryBytes == 3)
        #expect(try store.host(id: "host-b")?.freeMemoryBytes == 70)
        #expect(try store.host(id: "host-a")?.lastSeen == clock.wallNow())
        // Nothing new: nothing written.
        #expect(await registry.flushHeartbeats() == [])
        #expect(store.counts.batchedTouches == 1)
        clock.advance(by: .milliseconds(250))
        await registry.recordHeartbeat(freeMemoryBytes: 9, hostID: "host-b", connection: ConnectionID(2))
        #expect(await registry.flushHeartbeats() == ["host-b"])
        #expect(try store.host(id: "host-b")?.lastSeen == clock.wallNow())
    }

    @Test("a heartbeat recorded on the event loop (armed gate) keeps the host alive and is flushed")
    func gateHeartbeats() async throws {
        let registry = registry
        let gate = HeartbeatGate(now: clock.monotonicNow())
        _ = await registry.register(
            Self.registration(), connection: ConnectionID(1), remoteAddress: "127.0.0.1:4001",
            handle: RecordingConnection(), gate: gate)
        #expect(!gate.recordHeartbeatIfArmed(freeMemoryBytes: 1, now: .seconds(1), wallNow: clock.wallNow()))
        gate.arm()
        for _ in 0..<10 {
            clock.advance(by: .seconds(2))
            #expect(
                gate.recordHeartbeatIfArmed(freeMemoryBytes: 42, now: clock.monotonicNow(), wallNow: clock.wallNow()))
            #expect(await registry.sweep() == [])
        }
        #expect(await registry.flushHeartbeats() == ["host-a"])
        #expect(try store.host(id: "host-a")?.freeMemoryBytes == 42)
        #expect(try store.host(id: "host-a")?.lastSeen == clock.wallNow())
        // Silent past the limit: dropped, and the gate no longer answers for it.
        clock.advance(by: .milliseconds(3001))
        #expect(await registry.sweep() == ["host-a"])
        #expect(!gate.isArmed)
    }

    @Test("a replaced connection's gate is disarmed")
    func replacedGateDisarmed() async {
        let registry = registry
        let old = HeartbeatGate(now: clock.monotonicNow())
        _ = await registry.register(
            Self.registration(), connection: ConnectionID(1), remoteAddress: "127.0.0.1:4001",
            handle: RecordingConnection(), gate: old)
        old.arm()
        _ = await register(registry, connection: 2)
        #expect(!old.isArmed)
    }

    @Test("the last unwritten heartbeat is written when the connection closes")
    func closeWritesLastHeartbeat() async throws {
        let registry = registry
        _ = await register(registry, connection: 1)
        clock.advance(by: .milliseconds(400))
        await registry.recordHeartbeat(freeMemoryBytes: 11, hostID: "host-a", connection: ConnectionID(1))
        let heardAt = clock.wallNow()
        clock.advance(by: .milliseconds(100))
        await registry.connectionClosed(hostID: "host-a", connection: ConnectionID(1), reason: .peerClosed)
        #expect(try store.host(id: "host-a")?.lastSeen == heardAt)
        #expect(try store.host(id: "host-a")?.freeMemoryBytes == 11)
        #expect(try store.host(id: "host-a")?.status == .unreachable)
    }

    @Test("heartbeats from a replaced connection are ignored")
    func staleHeartbeat() async {
        let registry = registry
        _ = await register(registry, connection: 1)
        _ = await register(registry, connection: 2)
        clock.advance(by: .seconds(2))
        await registry.recordHeartbeat(freeMemoryBytes: 1, hostID: "host-a", connection: ConnectionID(1))
        #expect(await registry.flushHeartbeats() == [])
        #expect(store.counts.touches == 0)
    }

    @Test("inventory replaces the host's description in the store")
    func inventory() async throws {
        let registry = registry
        _ = await register(registry, connection: 1)
        let device = Device(
            id: "sim0", backend: .sim, vendorID: 1, deviceID: 2, driver: "ferry-sim",
            migrationCapabilities: [.stopCopy],
            dmaLogging: true, savingLayoutHandshake: false, migrationVersion: "v1", vmID: "", state: .running,
            stopCopyBytes: 10)
        let inventory = HostInventory(
            cpuCount: 4, memoryBytes: 1 << 32, freeMemoryBytes: 1 << 31, agentVersion: "0.1.1",
            kernelRelease: "6.18.44", dataAddress: "127.0.0.1:7101", devices: [device], vms: [])
        #expect(await registry.applyInventory(inventory, hostID: "host-a", connection: ConnectionID(1)))
        let host = try #require(try store.host(id: "host-a"))
        #expect(host.devices == [device])
        #expect(host.cpuCount == 4 && host.dataAddress == "127.0.0.1:7101" && host.agentVersion == "0.1.1")
        #expect(host.status == .ready)
    }

    @Test("a store failure refuses the registration with INTERNAL and keeps nothing live")
    func storeFailure() async throws {
        let registry = registry
        store.setFailing(true)
        let decision = await register(registry, connection: 1)
        guard case .rejected(.internal, _) = decision else {
            Issue.record("expected internal, got \(decision)")
            return
        }
        #expect(await registry.liveHostIDs() == [])
    }

    @Test("on startup every stored host is unreachable until its agent reconnects")
    func startup() async throws {
        let seeded = InMemoryHostStore(hosts: [makeHost("a", status: .ready), makeHost("b", status: .unreachable)])
        let registry = HostRegistry(store: seeded, clock: clock, settings: settings, logger: Logger(label: "test"))
        #expect(try await registry.markAllUnreachable() == 1)
        #expect(try seeded.hosts().map(\.status) == [.unreachable, .unreachable])
        #expect(try seeded.host(id: "a")?.statusChangedAt == clock.wallNow())
        #expect(try seeded.host(id: "b")?.statusChangedAt == makeHost("b", status: .unreachable).statusChangedAt)
    }
}
