import FerryModel
import FerryStore
import Foundation
import GRDB
import Testing

@Suite("Schema: creation, upgrade, WAL, newer files")
struct SchemaTests {
    @Test func newFileGetsEveryVersionAndEveryTable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteStore(path: dir.path("ferry.sqlite"))
        #expect(try store.appliedSchemaVersions() == Schema.versions)

        let queue = try DatabaseQueue(path: dir.path("ferry.sqlite"))
        let (tables, indexes) = try queue.read { db in
            (
                try String.fetchAll(
                    db,
                    sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'grdb%' ORDER BY name"),
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            )
        }
        #expect(
            tables == [
                "events", "host_devices", "host_vms", "hosts", "migration_runtime", "migrations", "plans",
                "sqlite_sequence",
            ])
        #expect(
            Set(indexes) == [
                "hosts_by_status", "migrations_by_plan", "migrations_unfinished", "events_by_migration",
                "events_by_plan", "events_by_time", "events_agent_waits",
            ])
    }

    @Test func fileDatabaseIsInWALMode() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteStore(path: dir.path("ferry.sqlite"))
        #expect(try store.journalMode() == "wal")
        try store.upsertHost(Fixtures.host("h"))
        #expect(FileManager.default.fileExists(atPath: dir.path("ferry.sqlite-wal")))
        // And it stays WAL for the next opener (WAL is persistent in the file).
        let mode = try DatabaseQueue(path: dir.path("ferry.sqlite")).read { db in
            try String.fetchOne(db, sql: "PRAGMA journal_mode")
        }
        #expect(mode == "wal")
    }

    @Test func reopeningKeepsData() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SQLiteStore(path: dir.path("ferry.sqlite")).upsertHost(Fixtures.fullHost())
        let reopened = try SQLiteStore(path: dir.path("ferry.sqlite"))
        #expect(try reopened.hosts() == [Fixtures.fullHost()])
    }

    @Test func v1DatabaseIsUpgradedKeepingItsHosts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ferry.sqlite")
        // A database as the first ferryd left it: only v1, a host registered the v1 way.
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrator.migrate(pool, upTo: "v1")
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO hosts VALUES ('old-host', 'unreachable', '0.0.9', 1, '10.0.0.9:40000', '10.0.0.9:7101',
                          '6.1.0', 8, 17179869184, 1073741824, '2025-01-02 03:04:05.678', '2025-01-02 03:05:00.000',
                          '2025-01-02 03:06:00.000')
                        """)
            }
            let tables = try pool.read { db in try db.tableExists("host_devices") }
            #expect(tables == false)
        }

        let store = try SQLiteStore(path: path)
        #expect(try store.appliedSchemaVersions() == Schema.versions)
        let host = try #require(try store.host(id: "old-host"))
        #expect(host.status == .unreachable)
        #expect(host.memoryBytes == 16 << 30)
        #expect(host.devices.isEmpty && host.vms.isEmpty)
        #expect(host.firstSeen == Date(timeIntervalSince1970: 1_735_787_045.678))

        // The v2 tables are there and usable for the old host.
        var updated = host
        updated.devices = [Fixtures.device("d0", vm: "vm-1")]
        updated.vms = [Fixtures.vm("vm-1", devices: ["d0"])]
        try store.upsertHost(updated)
        #expect(try store.host(id: "old-host") == updated)
    }

    @Test func databaseFromANewerFerrydIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ferry.sqlite")
        do {
            let pool = try DatabasePool(path: path)
            var newer = Schema.migrator
            newer.registerMigration("v99") { db in
                try db.execute(sql: "CREATE TABLE from_the_future (id TEXT PRIMARY KEY)")
            }
            try newer.migrate(pool)
        }
        #expect(throws: StoreError.newerSchema(found: ["v99"])) { try SQLiteStore(path: path) }
    }

    @Test func unopenableFileIsAnOpenError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("missing-dir/ferry.sqlite")
        let error = try #require(throws: StoreError.self) { try SQLiteStore(path: path) }
        guard case .open(let reportedPath, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(reportedPath == path)
    }

    @Test func schemaChecksRejectInvalidRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ferry.sqlite")
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        let hostValues = "'10.0.0.1:1', '10.0.0.1:2', '6.8', 4, 1, 1, '2025-01-01', '2025-01-01', '2025-01-01'"
        let invalid = [
            "INSERT INTO hosts VALUES ('h', 'lost', '0.1.0', 1, \(hostValues))",  // unknown status
            "INSERT INTO hosts VALUES ('', 'ready', '0.1.0', 1, \(hostValues))",  // empty id
            "INSERT INTO hosts VALUES ('h', 'ready', NULL, 1, \(hostValues))",  // NULL agent version
            """
            INSERT INTO host_devices VALUES ('nobody', 'd', 0, 'sim', 1, 1, 'x', 1, 0, 0, '', NULL, 'running', 0)
            """,  // no such host
        ]
        for sql in invalid {
            #expect(throws: DatabaseError.self, "\(sql)") { try queue.write { db in try db.execute(sql: sql) } }
        }
    }
}

@Suite("Schema: failed migrations")
struct FailedMigrationTests {
    @Test func failingMigrationNamesItsVersionAndLeavesThePreviousOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ferry.sqlite")
        do {
            // Someone created a table v2 needs by hand: v2 cannot run.
            let pool = try DatabasePool(path: path)
            try Schema.migrator.migrate(pool, upTo: "v1")
            try pool.write { db in try db.execute(sql: "CREATE TABLE host_vms (x INTEGER)") }
        }
        let error = try #require(throws: StoreError.self) { try SQLiteStore(path: path) }
        guard case .migration(let version, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(version == "v2")
        #expect(reason.contains("host_vms already exists"), "\(reason)")
        let applied = try DatabaseQueue(path: path).read { db in try Schema.migrator.appliedMigrations(db) }
        #expect(applied == ["v1"])
    }
}
