import FerryModel
import FerryStore
import Foundation
import GRDB
import Testing

enum PlanFixtures {
    static let t0 = Fixtures.t0

    static func plan(_ id: String = "p-1", at: Date = t0) -> Plan {
        var policy = MigrationPolicy.defaults
        policy.maxDowntimeMs = 450
        policy.autoConverge = true
        return Plan(
            id: id, name: "rack-\(id)", fileName: "plan.yaml", source: "name: x\n", policy: policy, submittedAt: at)
    }

    static func migration(
        _ id: String, plan: String = "p-1", position: Int, source: String = "a", destination: String = "b"
    )
        -> Migration
    {
        Migration(
            id: id, planID: plan, position: position, vmID: "vm-\(id)", sourceHostID: source,
            destinationHostID: destination, wave: 1 + position % 2, priority: position, ramBytes: 3 << 30,
            phaseTimes: [PhaseTime(phase: .pending, at: t0)])
    }

    static func event(_ kind: String, plan: String = "p-1", migration: String = "", offset: Double = 0) -> Event {
        Event(
            at: t0.addingTimeInterval(offset), planID: plan, migrationID: migration, kind: kind,
            message: "\(kind) happened",
            attributes: ["dirty_rate": "12", "round": "3"])
    }
}

@Suite("Plan store: plans, migrations, events")
struct PlanStoreTests {
    @Test(arguments: StoreKind.allCases)
    func submitStoresPlanMigrationsAndEventsTogether(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        let migrations = [PlanFixtures.migration("m1", position: 0), PlanFixtures.migration("m2", position: 1)]
        try store.submitPlan(
            PlanFixtures.plan(), migrations: migrations, events: [PlanFixtures.event("plan_submitted")])
        #expect(try store.plans() == [PlanFixtures.plan()])
        #expect(try store.migrations(planID: "p-1") == migrations)
        #expect(try store.migration(id: "m2") == migrations[1])
        let events = try store.events(planID: "p-1", migrationID: nil, afterSeq: 0, limit: 10)
        #expect(events.map(\.kind) == ["plan_submitted"])
        #expect(events.first?.attributes == ["dirty_rate": "12", "round": "3"])
        #expect(events.first?.seq == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func submitIsAllOrNothing(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        // The second migration breaks a CHECK (same source and destination): nothing may remain.
        let bad = [
            PlanFixtures.migration("m1", position: 0),
            PlanFixtures.migration("m2", position: 1, source: "a", destination: "a"),
        ]
        #expect(throws: StoreError.self) {
            try store.submitPlan(PlanFixtures.plan(), migrations: bad, events: [PlanFixtures.event("plan_submitted")])
        }
        #expect(try store.plans().isEmpty)
        #expect(try store.migration(id: "m1") == nil)
        #expect(try store.events(planID: nil, migrationID: nil, afterSeq: 0, limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func transitionsAreCompareAndSetWithTheirEvent(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.submitPlan(PlanFixtures.plan(), migrations: [PlanFixtures.migration("m1", position: 0)], events: [])
        let t1 = PlanFixtures.t0.addingTimeInterval(5)
        let stored = try store.recordTransition(
            migrationID: "m1", from: .pending, to: .scheduled, at: t1, commandSeq: 0, reason: "",
            event: PlanFixtures.event("phase_changed", migration: "m1", offset: 5))
        #expect(stored.seq == 1)
        let m = try #require(try store.migration(id: "m1"))
        #expect(m.phase == .scheduled)
        #expect(
            m.phaseTimes == [PhaseTime(phase: .pending, at: PlanFixtures.t0), PhaseTime(phase: .scheduled, at: t1)])
        #expect(try store.unfinishedMigrations().map(\.id) == ["m1"])
        // A stale writer expecting `pending` is refused and writes no event.
        #expect(throws: StoreError.phaseConflict(migrationID: "m1", expected: "pending", found: "scheduled")) {
            try store.recordTransition(
                migrationID: "m1", from: .pending, to: .cancelled, at: t1, commandSeq: 0, reason: "x",
                event: PlanFixtures.event("phase_changed", migration: "m1"))
        }
        #expect(throws: StoreError.unknownMigration(id: "nope")) {
            try store.recordTransition(
                migrationID: "nope", from: .pending, to: .scheduled, at: t1, commandSeq: 0, reason: "",
                event: PlanFixtures.event("phase_changed", migration: "nope"))
        }
        #expect(try store.events(planID: nil, migrationID: "m1", afterSeq: 0, limit: 10).count == 1)
        try store.recordTransition(
            migrationID: "m1", from: .scheduled, to: .cancelled, at: t1, commandSeq: 3, reason: "operator",
            event: PlanFixtures.event("phase_changed", migration: "m1"))
        #expect(try store.unfinishedMigrations().isEmpty)
        #expect(try store.migration(id: "m1")?.reason == "operator")
        #expect(try store.migration(id: "m1")?.commandSeq == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsReadBackInOrderFilteredAndPaged(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.submitPlan(PlanFixtures.plan(), migrations: [PlanFixtures.migration("m1", position: 0)], events: [])
        for i in 0..<50 {
            try store.appendEvent(
                PlanFixtures.event("round_\(i)", migration: i % 2 == 0 ? "m1" : "", offset: Double(i)))
        }
        let all = try store.events(planID: "p-1", migrationID: nil, afterSeq: 0, limit: 100)
        #expect(all.map(\.seq) == Array(1...50))
        let m1 = try store.events(planID: nil, migrationID: "m1", afterSeq: 0, limit: 100)
        #expect(m1.map(\.kind) == stride(from: 0, to: 50, by: 2).map { "round_\($0)" })
        let page = try store.events(planID: nil, migrationID: "m1", afterSeq: 10, limit: 3)
        #expect(page.map(\.seq) == [11, 13, 15])
    }

    @Test func v2DatabaseIsUpgradedToV3KeepingHosts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("ferry.sqlite")
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrator.migrate(pool, upTo: "v2")
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO hosts VALUES ('v2-host', 'ready', '0.1.0', 1, '10.0.0.9:40000', '10.0.0.9:7101',
                        '6.8', 8, 1024, 512, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')
                        """)
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.appliedSchemaVersions() == ["v1", "v2", "v3", "v4", "v5"])
        #expect(try store.hosts().map(\.id) == ["v2-host"])
        try store.submitPlan(PlanFixtures.plan(), migrations: [PlanFixtures.migration("m1", position: 0)], events: [])
        #expect(try store.plans().count == 1)
    }

    @Test func statusQueriesUseTheirIndexes() throws {
        let store = try SQLiteStore.inMemory()
        let plans = try store.explain("SELECT * FROM events WHERE seq > 0 AND migration_id = 'm' ORDER BY seq LIMIT 10")
        #expect(plans.contains { $0.contains("events_by_migration") })
        let unfinished = try store.explain(
            "SELECT * FROM migrations WHERE phase NOT IN ('completed', 'failed', 'cancelled', 'rolled_back')")
        #expect(unfinished.contains { $0.contains("migrations_unfinished") })
    }
}
