import FerryModel
import Foundation

/// What ferryd persists about plans, migrations and their history. Every change of a migration
/// is committed together with the event that records it, *before* the command that follows is sent.
public protocol PlanStore: Sendable {
    /// Stores the plan, all its migrations and the given events in one transaction: all or nothing.
    /// Events get their `seq` from the store.
    func submitPlan(_ plan: Plan, migrations: [Migration], events: [Event]) throws(StoreError)
    /// All plans, oldest first (submission order is the scheduler's plan order).
    func plans() throws(StoreError) -> [Plan]
    func plan(id: String) throws(StoreError) -> Plan?
    /// A plan's migrations in plan order.
    func migrations(planID: String) throws(StoreError) -> [Migration]
    func migration(id: String) throws(StoreError) -> Migration?
    /// Every migration that has not ended, in plan order (scheduler, recovery, validation).
    func unfinishedMigrations() throws(StoreError) -> [Migration]
    /// Moves a migration from `from` to `to` (compare-and-set: fails with `phaseConflict` if it is
    /// no longer in `from`), records when, the command seq and reason, and appends `event`, in one
    /// transaction. Returns the stored event.
    @discardableResult
    func recordTransition(
        migrationID: String, from: MigrationPhase, to: MigrationPhase, at: Date, commandSeq: UInt64, reason: String,
        event: Event
    ) throws(StoreError) -> Event
    /// Appends one event; returns it with its `seq`.
    @discardableResult
    func appendEvent(_ event: Event) throws(StoreError) -> Event
    /// History in order: of one migration, or one plan (`migrationID`/`planID` nil = any), after
    /// `afterSeq`, at most `limit`.
    func events(planID: String?, migrationID: String?, afterSeq: Int64, limit: Int) throws(StoreError) -> [Event]
}
