import FerryCoordinator
import FerryModel
import FerryStore
import FerryWire
import Foundation
import Synchronization

/// A HostStore in memory that counts its writes and can be told to fail.
final class InMemoryHostStore: HostStore {
    struct Counts: Equatable {
        var upserts = 0
        var statusChanges = 0
        var touches = 0
        /// `touchHosts` transactions.
        var batchedTouches = 0
    }

    private struct State {
        var hosts: [String: HypervisorHost] = [:]
        var counts = Counts()
        var failing = false
    }

    private let state = Mutex(State())

    init(hosts: [HypervisorHost] = []) {
        state.withLock { s in for host in hosts { s.hosts[host.id] = host } }
    }

    var counts: Counts { state.withLock { $0.counts } }

    /// Makes every later call throw (or succeed again).
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func upsertHost(_ host: HypervisorHost) throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "upsertHost", reason: "disk full") }
            var stored = host
            if let old = s.hosts[host.id] { stored.firstSeen = old.firstSeen }
            s.hosts[host.id] = stored
            s.counts.upserts += 1
        }
    }

    func setHostStatus(id: String, status: HostStatus, at: Date) throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "setHostStatus", reason: "disk full") }
            guard var host = s.hosts[id] else { throw StoreError.unknownHost(id: id) }
            if host.status != status {
                host.status = status
                host.statusChangedAt = at
            }
            s.hosts[id] = host
            s.counts.statusChanges += 1
        }
    }

    func touchHost(id: String, lastSeen: Date, freeMemoryBytes: UInt64) throws(StoreError) {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "touchHost", reason: "disk full") }
            guard s.hosts[id] != nil else { throw StoreError.unknownHost(id: id) }
            s.hosts[id]?.lastSeen = lastSeen
            s.hosts[id]?.freeMemoryBytes = freeMemoryBytes
            s.counts.touches += 1
        }
    }

    func touchHosts(_ touches: [HostTouch]) throws(StoreError) -> Int {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "touchHosts", reason: "disk full") }
            var changed = 0
            for touch in touches where s.hosts[touch.id] != nil {
                s.hosts[touch.id]?.lastSeen = touch.lastSeen
                s.hosts[touch.id]?.freeMemoryBytes = touch.freeMemoryBytes
                changed += 1
            }
            s.counts.batchedTouches += 1
            return changed
        }
    }

    func hosts() throws(StoreError) -> [HypervisorHost] {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "hosts", reason: "disk full") }
            return s.hosts.values.sorted { $0.id < $1.id }
        }
    }

    func host(id: String) throws(StoreError) -> HypervisorHost? {
        try state.withLock { (s: inout State) throws(StoreError) in
            if s.failing { throw StoreError.query(operation: "host", reason: "disk full") }
            return s.hosts[id]
        }
    }
}

/// A clock the test moves by hand; wall and monotonic time advance together.
final class ManualClock: CoordinatorClock {
    private let elapsed = Mutex(Duration.zero)
    let wallOrigin = Date(timeIntervalSince1970: 1_764_000_000)

    func advance(by duration: Duration) { elapsed.withLock { $0 += duration } }

    func wallNow() -> Date {
        let e = elapsed.withLock { $0 }
        return wallOrigin.addingTimeInterval(Double(e.components.seconds) + Double(e.components.attoseconds) / 1e18)
    }

    func monotonicNow() -> Duration { elapsed.withLock { $0 } }
}

/// Records what the registry asked of a connection.
final class RecordingConnection: EvictableConnection {
    private let reasons = Mutex<[EvictionReason]>([])

    var evictions: [EvictionReason] { reasons.withLock { $0 } }

    func evict(_ reason: EvictionReason) { reasons.withLock { $0.append(reason) } }

    private let sentMessages = Mutex<[WireMessage]>([])

    var sent: [WireMessage] { sentMessages.withLock { $0 } }

    func send(_ message: WireMessage) { sentMessages.withLock { $0.append(message) } }
}

func makeHost(_ id: String, status: HostStatus, at date: Date = Date(timeIntervalSince1970: 1_700_000_000))
    -> HypervisorHost
{
    HypervisorHost(
        id: id, status: status, agentVersion: "0.0.9", protocolVersion: 1, controlAddress: "10.0.0.9:5000",
        dataAddress: "10.0.0.9:7101", kernelRelease: "6.1", cpuCount: 8, memoryBytes: 1 << 34,
        freeMemoryBytes: 1 << 33, devices: [], vms: [], firstSeen: date, lastSeen: date, statusChangedAt: date)
}
