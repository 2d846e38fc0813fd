import FerryModel
import Foundation

/// What ferryd persists about hosts. The SQLite implementation is `SQLiteStore`; a PostgreSQL one
/// comes when several coordinators share state.
public protocol HostStore: Sendable {
    /// Inserts the host or replaces everything known about it, keeping its original `firstSeen`.
    func upsertHost(_ host: HypervisorHost) throws(StoreError)
    /// Records a status change (ready/unreachable) and when it happened.
    func setHostStatus(id: String, status: HostStatus, at: Date) throws(StoreError)
    /// Records the last time the agent was heard from. Cheap: one indexed UPDATE.
    func touchHost(id: String, lastSeen: Date, freeMemoryBytes: UInt64) throws(StoreError)
    /// `touchHost` for many hosts in one transaction (ferryd's once-per-interval heartbeat sweep).
    /// Hosts that are not stored are skipped; returns how many rows changed.
    @discardableResult
    func touchHosts(_ touches: [HostTouch]) throws(StoreError) -> Int
    /// All hosts, ordered by id.
    func hosts() throws(StoreError) -> [HypervisorHost]
    func host(id: String) throws(StoreError) -> HypervisorHost?
}

/// One host's liveness as the heartbeats last reported it.
public struct HostTouch: Sendable, Equatable {
    public var id: String
    public var lastSeen: Date
    public var freeMemoryBytes: UInt64

    public init(id: String, lastSeen: Date, freeMemoryBytes: UInt64) {
        self.id = id
        self.lastSeen = lastSeen
        self.freeMemoryBytes = freeMemoryBytes
    }
}
