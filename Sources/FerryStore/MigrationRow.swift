import FerryModel
import Foundation
import GRDB

/// The `migrations` table's columns and their mapping to `Migration`.
enum MigrationRow {
    static let columns =
        [
            "id", "plan_id", "position", "vm_id", "source_host_id", "destination_host_id", "wave", "priority",
            "ram_bytes",
            "phase", "command_seq", "reason",
        ] + MigrationPhase.allCases.map(timeColumn)

    static func timeColumn(_ phase: MigrationPhase) -> String { "\(phase.rawValue)_at" }

    /// The compare-and-set of a phase transition, inside the caller's write transaction: moves the migration from
    /// `from` to `to` (stamping `to`'s time unless it is already in `to`) and stores `commandSeq` and `reason`.
    /// Throws `unknownMigration` or `phaseConflict` (with the phase found) when it is not in `from`.
    static func transition(
        _ db: Database, migrationID: String, from: MigrationPhase, to: MigrationPhase, at: Date, commandSeq: Int64,
        reason: String
    ) throws {
        let column = timeColumn(to)
        try db.execute(
            sql: """
                UPDATE migrations SET phase = ?, command_seq = ?, reason = ?,
                    \(column) = CASE WHEN phase = ? THEN \(column) ELSE ? END
                WHERE id = ? AND phase = ?
                """,
            arguments: [to.rawValue, commandSeq, reason, to.rawValue, at, migrationID, from.rawValue])
        if db.changesCount == 0 {
            guard
                let found = try String.fetchOne(
                    db, sql: "SELECT phase FROM migrations WHERE id = ?", arguments: [migrationID])
            else { throw StoreError.unknownMigration(id: migrationID) }
            throw StoreError.phaseConflict(migrationID: migrationID, expected: from.rawValue, found: found)
        }
    }

    static func values(of m: Migration) throws(StoreError) -> [(any DatabaseValueConvertible)?] {
        var values: [(any DatabaseValueConvertible)?] = [
            m.id, m.planID, m.position, m.vmID, m.sourceHostID, m.destinationHostID, m.wave, m.priority,
            try sqliteInteger(m.ramBytes, "ram_bytes"), m.phase.rawValue,
            try sqliteInteger(m.commandSeq, "command_seq"),
            m.reason,
        ]
        for phase in MigrationPhase.allCases { values.append(m.enteredAt(phase)) }
        return values
    }

    /// Many rows of one statement: column positions looked up once.
    static func migrations(from rows: [Row]) throws(StoreError) -> [Migration] {
        guard let first = rows.first else { return [] }
        let columns = ColumnIndexes(first)
        var result: [Migration] = []
        result.reserveCapacity(rows.count)
        for row in rows { result.append(try migration(from: row, columns: columns)) }
        return result
    }

    static func migration(from row: Row) throws(StoreError) -> Migration {
        try migration(from: row, columns: nil)
    }

    static func migration(from row: Row, columns: ColumnIndexes?) throws(StoreError) -> Migration {
        let r = StoredRow(row, table: "migrations", keyColumns: ["id"], columns: columns)
        var times: [PhaseTime] = []
        for phase in MigrationPhase.allCases {
            if let at = try r.optional(timeColumn(phase), as: Date.self) {
                times.append(PhaseTime(phase: phase, at: at))
            }
        }
        // Phases are entered in time order; equal times keep the phase order.
        times.sort { ($0.at, $0.phase) < ($1.at, $1.phase) }
        return Migration(
            id: try r.value("id"), planID: try r.value("plan_id"), position: try r.int("position"),
            vmID: try r.value("vm_id"), sourceHostID: try r.value("source_host_id"),
            destinationHostID: try r.value("destination_host_id"), wave: try r.int("wave"),
            priority: try r.int("priority"), ramBytes: try r.unsigned("ram_bytes"), phase: try r.enumeration("phase"),
            phaseTimes: times, commandSeq: try r.unsigned("command_seq"), reason: try r.value("reason"))
    }
}

/// The `plans` table.
enum PlanRow {
    static func plan(from row: Row) throws(StoreError) -> Plan {
        let r = StoredRow(row, table: "plans", keyColumns: ["id"])
        let policyText: String = try r.value("policy")
        let policy: MigrationPolicy
        do {
            policy = try FerryJSON.decoder().decode(MigrationPolicy.self, from: Data(policyText.utf8))
        } catch {
            throw .corruptRow(table: "plans", key: r.key, reason: "column policy: \(error)")
        }
        return Plan(
            id: try r.value("id"), name: try r.value("name"), fileName: try r.value("file_name"),
            source: try r.value("source"), policy: policy, submittedAt: try r.value("submitted_at"))
    }
}

/// The `events` table.
enum EventRow {
    static func event(from row: Row) throws(StoreError) -> Event {
        let r = StoredRow(row, table: "events", keyColumns: ["seq"])
        let text: String = try r.value("attributes")
        let attributes: [String: String]
        do {
            attributes = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw .corruptRow(table: "events", key: r.key, reason: "column attributes: \(error)")
        }
        return Event(
            seq: try r.value("seq"), at: try r.value("at"), planID: try r.value("plan_id"),
            migrationID: try r.value("migration_id"), kind: try r.value("kind"), message: try r.value("message"),
            attributes: attributes)
    }

    static func insert(_ event: Event, _ db: Database) throws -> Event {
        let attributes = String(decoding: try JSONEncoder().encode(event.attributes), as: UTF8.self)
        try db.execute(
            sql: "INSERT INTO events (at, plan_id, migration_id, kind, message, attributes) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [event.at, event.planID, event.migrationID, event.kind, event.message, attributes])
        var stored = event
        stored.seq = db.lastInsertedRowID
        return stored
    }
}
