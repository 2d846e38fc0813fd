import FerryModel
import Foundation
import GRDB

extension SQLiteStore: PlanStore {
    public func submitPlan(_ plan: Plan, migrations: [Migration], events: [Event]) throws(StoreError) {
        let policy = try Self.json(plan.policy)
        try write("submitPlan") { db in
            try db.execute(
                sql: "INSERT INTO plans (id, name, file_name, source, policy, submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [plan.id, plan.name, plan.fileName, plan.source, policy, plan.submittedAt])
            let insert = """
                INSERT INTO migrations (\(MigrationRow.columns.joined(separator: ", ")))
                VALUES (\(MigrationRow.columns.map { _ in "?" }.joined(separator: ", ")))
                """
            // One prepared statement for all rows: a 1,000-migration plan is one transaction.
            let statement = try db.cachedStatement(sql: insert)
            for migration in migrations {
                try statement.execute(arguments: StatementArguments(try MigrationRow.values(of: migration)))
            }
            for event in events { _ = try EventRow.insert(event, db) }
        }
    }

    public func plans() throws(StoreError) -> [Plan] {
        try read("plans") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM plans ORDER BY submitted_at, rowid").map(PlanRow.plan(from:))
        }
    }

    public func plan(id: String) throws(StoreError) -> Plan? {
        try read("plan") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM plans WHERE id = ?", arguments: [id]).map(PlanRow.plan(from:))
        }
    }

    public func migrations(planID: String) throws(StoreError) -> [Migration] {
        try read("migrations") { db in
            try MigrationRow.migrations(
                from: Row.fetchAll(
                    db, sql: "SELECT * FROM migrations WHERE plan_id = ? ORDER BY position", arguments: [planID]))
        }
    }

    public func migration(id: String) throws(StoreError) -> Migration? {
        try read("migration") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM migrations WHERE id = ?", arguments: [id])
                .map(MigrationRow.migration(from:))
        }
    }

    public func unfinishedMigrations() throws(StoreError) -> [Migration] {
        try read("unfinishedMigrations") { db in
            // Same predicate as the partial index migrations_unfinished, so SQLite uses it.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.* FROM migrations m JOIN plans p ON p.id = m.plan_id
                    WHERE m.phase NOT IN ('completed', 'failed', 'cancelled', 'rolled_back')
                    ORDER BY p.submitted_at, p.rowid, m.position
                    """
            ).map(MigrationRow.migration(from:))
        }
    }

    @discardableResult
    public func recordTransition(
        migrationID: String, from: MigrationPhase, to: MigrationPhase, at: Date, commandSeq: UInt64, reason: String,
        event: Event
    ) throws(StoreError) -> Event {
        let seq = try sqliteInteger(commandSeq, "command_seq")
        return try write("recordTransition") { db in
            try MigrationRow.transition(
                db, migrationID: migrationID, from: from, to: to, at: at, commandSeq: seq, reason: reason)
            return try EventRow.insert(event, db)
        }
    }

    @discardableResult
    public func appendEvent(_ event: Event) throws(StoreError) -> Event {
        try write("appendEvent") { db in try EventRow.insert(event, db) }
    }

    public func events(planID: String?, migrationID: String?, afterSeq: Int64, limit: Int) throws(StoreError)
        -> [Event]
    {
        try read("events") { db in
            var conditions = ["seq > ?"]
            var arguments: StatementArguments = [afterSeq]
            if let migrationID {
                conditions.append("migration_id = ?")
                _ = arguments.append(contentsOf: [migrationID])
            }
            if let planID {
                conditions.append("plan_id = ?")
                _ = arguments.append(contentsOf: [planID])
            }
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM events WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT ?",
                arguments: arguments
            ).map(EventRow.event(from:))
        }
    }

    static func json(_ value: some Encodable) throws(StoreError) -> String {
        do {
            return String(decoding: try FerryJSON.encoder(for: type(of: value)).encode(value), as: UTF8.self)
        } catch {
            throw .query(operation: "encode JSON", reason: "\(error)")
        }
    }
}

extension SQLiteStore {
    /// SQLite's query plan for `sql` (one line per step), for tests that keep reads indexed.
    public func explain(_ sql: String) throws(StoreError) -> [String] {
        try read("explain") { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { row in row["detail"] as String? ?? "" }
        }
    }
}
