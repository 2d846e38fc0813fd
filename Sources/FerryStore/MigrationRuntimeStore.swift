import FerryModel
import Foundation
import GRDB

/// What the migration driver persists beyond `PlanStore`: the runtime it resumes from after a
/// restart (written in the same transaction as the transition it belongs to) and the latest progress.
public protocol MigrationRuntimeStore: Sendable {
    /// Moves the migration from `from` to `to` (compare-and-set as `recordTransition`; `from == to`
    /// records a change within a phase, e.g. a throttle), stores `commandSeq`, `reason` and
    /// `runtime`, and appends `event`: one transaction, so no command leaves before all of it is on disk.
    @discardableResult
    func commitTransition(
        migrationID: String, from: MigrationPhase, to: MigrationPhase, at: Date, commandSeq: UInt64, reason: String,
        runtime: MigrationRuntime, event: Event
    ) throws(StoreError) -> Event
    func runtime(migrationID: String) throws(StoreError) -> MigrationRuntime?
    /// Replaces the migration's progress (the runtime row must exist).
    func recordProgress(migrationID: String, progress: MigrationProgress, at: Date) throws(StoreError)
    func progress(migrationID: String) throws(StoreError) -> MigrationProgress?
    /// Progress of every migration that has any, by migration id.
    func allProgress() throws(StoreError) -> [String: MigrationProgress]
    /// Progress of one plan's migrations that have any, by migration id: `status PLAN` reads
    /// only its own rows (through migrations_by_plan), not the whole history's.
    func progress(planID: String) throws(StoreError) -> [String: MigrationProgress]
    /// Every event that gives up on an agent (`GivenUpAgent`'s `given_up` attribute) or records
    /// its return (`agent_reconciled`), in history order: what ferryd still awaits is derived from
    /// these at start (through the partial index events_agent_waits).
    func agentWaitEvents() throws(StoreError) -> [Event]
}

extension SQLiteStore: MigrationRuntimeStore {
    @discardableResult
    public func commitTransition(
        migrationID: String, from: MigrationPhase, to: MigrationPhase, at: Date, commandSeq: UInt64, reason: String,
        runtime: MigrationRuntime, event: Event
    ) throws(StoreError) -> Event {
        let seq = try sqliteInteger(commandSeq, "command_seq")
        let runtimeJSON = try Self.json(runtime)
        let emptyProgress = try Self.json(MigrationProgress())
        return try write("commitTransition") { db in
            try MigrationRow.transition(
                db, migrationID: migrationID, from: from, to: to, at: at, commandSeq: seq, reason: reason)
            try db.execute(
                sql: """
                    INSERT INTO migration_runtime (migration_id, runtime, progress, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (migration_id) DO UPDATE SET runtime = excluded.runtime, updated_at = excluded.updated_at
                    """,
                arguments: [migrationID, runtimeJSON, emptyProgress, at])
            return try EventRow.insert(event, db)
        }
    }

    public func runtime(migrationID: String) throws(StoreError) -> MigrationRuntime? {
        guard let text = try column("runtime", migrationID) else { return nil }
        return try Self.decode(MigrationRuntime.self, text, column: "runtime", key: migrationID)
    }

    public func recordProgress(migrationID: String, progress: MigrationProgress, at: Date) throws(StoreError) {
        let json = try Self.json(progress)
        try write("recordProgress") { db in
            try db.execute(
                sql: "UPDATE migration_runtime SET progress = ?, updated_at = ? WHERE migration_id = ?",
                arguments: [json, at, migrationID])
            if db.changesCount == 0 { throw StoreError.unknownMigration(id: migrationID) }
        }
    }

    public func progress(migrationID: String) throws(StoreError) -> MigrationProgress? {
        guard let text = try column("progress", migrationID) else { return nil }
        return try Self.decode(MigrationProgress.self, text, column: "progress", key: migrationID)
    }

    public func allProgress() throws(StoreError) -> [String: MigrationProgress] {
        try progressRows("allProgress", sql: "SELECT migration_id, progress FROM migration_runtime", [])
    }

    public func progress(planID: String) throws(StoreError) -> [String: MigrationProgress] {
        try progressRows(
            "progress(planID:)",
            sql: """
                SELECT r.migration_id, r.progress FROM migrations m
                JOIN migration_runtime r ON r.migration_id = m.id WHERE m.plan_id = ?
                """, [planID])
    }

    public func agentWaitEvents() throws(StoreError) -> [Event] {
        try read("agentWaitEvents") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM events WHERE \(Schema.agentWaitsPredicate) ORDER BY seq"
            ).map(EventRow.event(from:))
        }
    }

    private func progressRows(_ operation: String, sql: String, _ arguments: StatementArguments)
        throws(StoreError) -> [String: MigrationProgress]
    {
        let rows = try read(operation) { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                ($0["migration_id"] as String, $0["progress"] as String)
            }
        }
        var result: [String: MigrationProgress] = [:]
        let decoder = FerryJSON.decoder(for: MigrationProgress.self)  // one for all rows: making one costs
        for (id, text) in rows {
            result[id] = try Self.decode(MigrationProgress.self, text, column: "progress", key: id, decoder: decoder)
        }
        return result
    }

    private func column(_ name: String, _ migrationID: String) throws(StoreError) -> String? {
        try read("migration_runtime.\(name)") { db in
            try String.fetchOne(
                db, sql: "SELECT \(name) FROM migration_runtime WHERE migration_id = ?", arguments: [migrationID])
        }
    }

    private static func read<T: JSONReadable>(_ type: T.Type, _ text: String) -> T? {
        JSONReader.read(type, from: text.utf8)
    }

    private static func decode<T: Decodable>(
        _ type: T.Type, _ text: String, column: String, key: String, decoder: JSONDecoder? = nil
    ) throws(StoreError) -> T {
        // Progress (read for every row of a plan's status) has a fast reader; Foundation is the fallback.
        if let readable = T.self as? any JSONReadable.Type, let value = read(readable, text) as? T { return value }
        do {
            return try (decoder ?? FerryJSON.decoder(for: T.self)).decode(T.self, from: Data(text.utf8))
        } catch {
            throw .corruptRow(table: "migration_runtime", key: key, reason: "column \(column): \(error)")
        }
    }
}
