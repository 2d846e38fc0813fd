import FerryModel
import FerryStore
import FerryWire
import Foundation
import Logging

/// Which agents are connected right now, and the single writer of host liveness to the store.
///
/// Heartbeats do not come here once a connection is active: `ControlFrameHandler` records them in
/// the connection's `HeartbeatGate` on the event loop, and `flushHeartbeats` writes every host's
/// newest one in one transaction per interval. Status changes (ready/unreachable) are written as
/// they happen. Store calls are synchronous (GRDB) and short; they run on this actor.
public actor HostRegistry {
    private struct LiveHost {
        var connection: ConnectionID
        var bootID: String
        var handle: any EvictableConnection
        /// When a frame last came in, and the heartbeat not yet written; shared with the event loop.
        var gate: HeartbeatGate
        /// What the store holds about the host, kept to avoid reading it back on each inventory.
        var host: HypervisorHost
        /// The last inventory as the agent sent it: launch args and device details for migrations.
        var wireInventory: Ferry_V1_Inventory?
    }

    private let store: any HostStore
    private let clock: any CoordinatorClock
    private let settings: LinkSettings
    private let logger: Logger
    private var live: [String: LiveHost] = [:]
    /// Monotonic time of the last `flushHeartbeats` from `runSweeps`.
    private var lastFlush: Duration?
    /// Where migration reports and link changes go (the migration supervisor); nil until set.
    private var reportSink: (any MigrationReportSink)?

    public init(store: any HostStore, clock: any CoordinatorClock, settings: LinkSettings, logger: Logger) {
        self.store = store
        self.clock = clock
        self.settings = settings
        self.logger = logger
    }

    /// ferryd just started, so no agent is connected: every stored host is unreachable until its
    /// agent dials in again. Returns how many hosts changed status.
    @discardableResult
    public func markAllUnreachable() throws(StoreError) -> Int {
        let now = clock.wallNow()
        var changed = 0
        for host in try store.hosts() where host.status != .unreachable {
            try store.setHostStatus(id: host.id, status: .unreachable, at: now)
            changed += 1
        }
        return changed
    }

    /// Host ids with a live connection, sorted.
    public func liveHostIDs() -> [String] { live.keys.sorted() }

    /// Registers a host after its Hello. Refuses a host id that another live connection holds with
    /// a different boot id; a connection with the same boot id (the agent redialed before we saw
    /// the old one close) or one gone silent is replaced.
    /// `gate` is the connection's liveness record (a fresh one if nil).
    func register(
        _ registration: AgentSession.Registration, connection: ConnectionID, remoteAddress: String,
        handle: any EvictableConnection, gate: HeartbeatGate? = nil
    ) -> AgentSession.RegistrationDecision {
        let now = clock.monotonicNow()
        let wallNow = clock.wallNow()
        let hostID = registration.hostID
        if let existing = live[hostID] {
            let silent = now - existing.gate.lastReceived > settings.silenceLimit
            guard existing.bootID == registration.bootID || silent else {
                return .rejected(
                    .duplicateHost,
                    "host '\(hostID)' is already connected with boot id '\(existing.bootID)' from \(existing.host.controlAddress)"
                )
            }
            existing.gate.disarm()
            existing.handle.evict(.replaced)
            live[hostID] = nil
            logger.info(
                "host connection replaced", metadata: ["host": "\(hostID)", "old_connection": "\(existing.connection)"])
        }
        let host: HypervisorHost
        do {
            host = try registeredHost(registration, remoteAddress: remoteAddress, at: wallNow)
            try store.upsertHost(host)
        } catch {
            logger.error("cannot record host registration", metadata: ["host": "\(hostID)", "error": "\(error)"])
            return .rejected(.internal, "ferryd cannot record host '\(hostID)': \(error)")
        }
        let gate = gate ?? HeartbeatGate(now: now)
        gate.noteReceived(now: now)
        live[hostID] = LiveHost(
            connection: connection, bootID: registration.bootID, handle: handle, gate: gate, host: host)
        logger.info(
            "host ready",
            metadata: [
                "host": "\(hostID)", "remote_address": "\(remoteAddress)", "boot_id": "\(registration.bootID)",
                "protocol_version": "\(registration.protocolVersion)",
            ])
        return .accepted
    }

    /// The stored host (or a new one) as it is now that its agent connected.
    private func registeredHost(
        _ registration: AgentSession.Registration, remoteAddress: String, at now: Date
    ) throws(StoreError) -> HypervisorHost {
        var host =
            try store.host(id: registration.hostID)
            ?? HypervisorHost(
                id: registration.hostID, status: .unreachable, agentVersion: "", protocolVersion: 0,
                controlAddress: "", dataAddress: "", kernelRelease: "", cpuCount: 0, memoryBytes: 0,
                freeMemoryBytes: 0, devices: [], vms: [], firstSeen: now, lastSeen: now, statusChangedAt: now)
        if host.status != .ready {
            host.status = .ready
            host.statusChangedAt = now
        }
        host.agentVersion = registration.agentVersion
        host.protocolVersion = Int(registration.protocolVersion)
        host.controlAddress = remoteAddress
        host.lastSeen = now
        return host
    }

    /// Records a new inventory. Returns false if the store refused it; the caller then drops the
    /// connection so the agent redials and sends it again.
    public func applyInventory(
        _ inventory: HostInventory, wire: Ferry_V1_Inventory? = nil, hostID: String, connection: ConnectionID
    ) async -> Bool {
        guard var entry = live[hostID], entry.connection == connection else { return true }
        let firstInventory = entry.wireInventory == nil
        if let wire { entry.wireInventory = wire }
        let now = clock.monotonicNow()
        entry.host = entry.host.applying(inventory)
        entry.host.lastSeen = clock.wallNow()
        entry.gate.noteReceived(now: now)
        live[hostID] = entry
        do {
            try store.upsertHost(entry.host)
        } catch {
            logger.error("cannot record inventory", metadata: ["host": "\(hostID)", "error": "\(error)"])
            return false
        }
        logger.info(
            "inventory recorded",
            metadata: ["host": "\(hostID)", "devices": "\(inventory.devices.count)", "vms": "\(inventory.vms.count)"])
        // The first inventory completes the (re)connection: drivers may send and query again.
        if firstInventory && wire != nil, let sink = reportSink { await sink.hostConnected(hostID) }
        return true
    }

    /// Notes a heartbeat that came the session's way (one that arrived before the connection's
    /// gate was armed); `flushHeartbeats` writes it with the others.
    public func recordHeartbeat(freeMemoryBytes: UInt64, hostID: String, connection: ConnectionID) {
        guard let entry = live[hostID], entry.connection == connection else { return }
        entry.gate.recordHeartbeat(
            freeMemoryBytes: freeMemoryBytes, now: clock.monotonicNow(), wallNow: clock.wallNow())
    }

    /// Writes each live host's newest heartbeat since the last flush (`last_seen`, free memory) in
    /// one store transaction. Returns the hosts written, sorted.
    @discardableResult
    public func flushHeartbeats() -> [String] {
        var touches: [HostTouch] = []
        for (hostID, entry) in live {
            guard let heartbeat = entry.gate.takeHeartbeat() else { continue }
            live[hostID]?.host.lastSeen = heartbeat.at
            live[hostID]?.host.freeMemoryBytes = heartbeat.freeMemoryBytes
            touches.append(HostTouch(id: hostID, lastSeen: heartbeat.at, freeMemoryBytes: heartbeat.freeMemoryBytes))
        }
        write(touches)
        return touches.map(\.id).sorted()
    }

    private func write(_ touches: [HostTouch]) {
        guard !touches.isEmpty else { return }
        do {
            try store.touchHosts(touches)
        } catch {
            // Not fatal: liveness is tracked in memory; the next write may succeed.
            logger.warning("cannot record heartbeats", metadata: ["hosts": "\(touches.count)", "error": "\(error)"])
        }
    }

    /// Any other frame from the agent: it is alive.
    public func noteActivity(hostID: String, connection: ConnectionID) {
        guard let entry = live[hostID], entry.connection == connection else { return }
        entry.gate.noteReceived(now: clock.monotonicNow())
    }

    /// The connection ended. If it was the host's current one, the host is unreachable now.
    public func connectionClosed(hostID: String, connection: ConnectionID, reason: CloseReason) async {
        guard let entry = live[hostID], entry.connection == connection else { return }
        live[hostID] = nil
        entry.gate.disarm()
        // Its last heartbeat may not be written yet; last_seen should say when it was.
        if let heartbeat = entry.gate.takeHeartbeat() {
            write([HostTouch(id: hostID, lastSeen: heartbeat.at, freeMemoryBytes: heartbeat.freeMemoryBytes)])
        }
        markUnreachable(hostID, reason: "\(reason)")
        if let sink = reportSink { await sink.hostDisconnected(hostID) }
    }

    public func setReportSink(_ sink: any MigrationReportSink) { reportSink = sink }

    /// Hands a migration report from the host's current connection to the supervisor.
    public func route(_ report: MigrationReport, from hostID: String, connection: ConnectionID) async {
        guard live[hostID]?.connection == connection, let sink = reportSink else { return }
        await sink.deliver(report, from: hostID)
    }

    /// Marks unreachable and drops every host silent for more than heartbeat_miss_limit intervals.
    /// Run periodically (`runSweeps`). Returns the hosts it marked.
    @discardableResult
    public func sweep() -> [String] {
        let now = clock.monotonicNow()
        var marked: [String] = []
        for (hostID, entry) in live {
            let silence = now - entry.gate.lastReceived
            guard silence > settings.silenceLimit else { continue }
            live[hostID] = nil
            entry.gate.disarm()
            entry.handle.evict(.silent(for: silence))
            markUnreachable(hostID, reason: "nothing received for \(silence)")
            marked.append(hostID)
        }
        if let sink = reportSink, !marked.isEmpty {
            Task { for host in marked { await sink.hostDisconnected(host) } }
        }
        return marked.sorted()
    }

    /// Sweeps every half heartbeat interval until cancelled, so a silent host is noticed within
    /// miss_limit + 1/2 intervals; writes the heartbeats once per interval.
    public func runSweeps() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: settings.heartbeatInterval / 2)
            } catch {
                return
            }
            sweep()
            let now = clock.monotonicNow()
            if lastFlush.map({ now - $0 >= settings.heartbeatInterval }) ?? true {
                lastFlush = now
                flushHeartbeats()
            }
        }
    }

    private func markUnreachable(_ hostID: String, reason: String) {
        do {
            try store.setHostStatus(id: hostID, status: .unreachable, at: clock.wallNow())
        } catch {
            logger.error("cannot record host status", metadata: ["host": "\(hostID)", "error": "\(error)"])
        }
        logger.info("host unreachable", metadata: ["host": "\(hostID)", "reason": "\(reason)"])
    }
}

extension HostRegistry: AgentCommandLink {
    public func send(_ command: Ferry_V1_Command, to hostID: String) -> Bool {
        // Only once the agent's inventory arrived: before that it has not finished (re)connecting.
        guard let entry = live[hostID], entry.wireInventory != nil else { return false }
        entry.handle.send(.command(command))
        return true
    }

    public func reportedVM(_ vmID: String, on hostID: String) -> (vm: Ferry_V1_Vm, devices: [Ferry_V1_Device])? {
        guard let inventory = live[hostID]?.wireInventory, let vm = inventory.vms.first(where: { $0.vmID == vmID })
        else { return nil }
        let ids = Set(vm.deviceIds)
        return (vm, inventory.devices.filter { ids.contains($0.id) })
    }

    public func isConnected(_ hostID: String) -> Bool { live[hostID]?.wireInventory != nil }
}
