import FerryModel
import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, reached through GRDB.
///
/// A `DatabasePool` lets HTTP reads run while the agent link writes; the in-memory variant (tests)
/// is a `DatabaseQueue`. Every GRDB error is wrapped into `StoreError` with the operation's name.
public final class SQLiteStore: HostStore {
    let writer: any DatabaseWriter

    /// Creates or opens the database file at `path`, in WAL mode, and migrates it to this build's
    /// schema. A file written by a newer ferryd is refused with `StoreError.newerSchema`.
    public init(path: String) throws(StoreError) {
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: Self.configuration())
        } catch {
            throw .open(path: path, reason: Self.reason(error))
        }
        // A pool only works in WAL; say so plainly if the file system refused it (e.g. some network mounts).
        let mode: String
        do {
            mode = try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
        } catch {
            throw .open(path: path, reason: Self.reason(error))
        }
        guard mode == "wal" else { throw .open(path: path, reason: "journal_mode is '\(mode)', expected 'wal'") }
        try Self.migrate(pool)
        writer = pool
    }

    private init(migrated writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// A private database that lives as long as the returned store (tests, dry runs).
    public static func inMemory() throws(StoreError) -> SQLiteStore {
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(configuration: configuration())
        } catch {
            throw .open(path: ":memory:", reason: reason(error))
        }
        try migrate(queue)
        return SQLiteStore(migrated: queue)
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        // Another process (sqlite3, a second ferryd by mistake) may hold the write lock briefly.
        config.busyMode = .timeout(5)
        config.foreignKeysEnabled = true
        return config
    }

    /// Refuses newer databases, then applies the missing migrations one at a time so a failure
    /// names the version that failed (each migration runs in its own transaction).
    static func migrate(_ writer: any DatabaseWriter) throws(StoreError) {
        let migrator = Schema.migrator
        let applied: Set<String>
        do {
            applied = try writer.read { db in try migrator.appliedIdentifiers(db) }
        } catch {
            throw .query(operation: "read schema versions", reason: reason(error))
        }
        let unknown = applied.subtracting(Schema.versions).sorted()
        guard unknown.isEmpty else { throw .newerSchema(found: unknown) }
        // GRDB traps on migrate(upTo:) for a version already passed, so only pending ones are named.
        for version in Schema.versions where !applied.contains(version) {
            do {
                try migrator.migrate(writer, upTo: version)
            } catch {
                throw .migration(version: version, reason: reason(error))
            }
        }
    }

    /// Schema versions applied to this database, oldest first.
    public func appliedSchemaVersions() throws(StoreError) -> [String] {
        try read("appliedSchemaVersions") { db in try Schema.migrator.appliedMigrations(db) }
    }

    /// SQLite's journal mode for this database (`wal` for files, `memory` in memory).
    public func journalMode() throws(StoreError) -> String {
        try read("journalMode") { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: - Running queries

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .query(operation: operation, reason: Self.reason(error))
        }
    }

    /// Runs `body` in one write transaction: all of it is committed or none.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .query(operation: operation, reason: Self.reason(error))
        }
    }

    /// SQLite's own message (and the statement) for GRDB errors, a description for anything else.
    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            var text = "\(error.resultCode): \(error.message ?? "no message")"
            if let sql = error.sql { text += " (in: \(sql.trimmingCharacters(in: .whitespacesAndNewlines)))" }
            return text
        }
        return String(describing: error)
    }
}
