import FerryModel
import FerryStore
import Foundation
import Testing

@Suite("Progress read per plan (status PLAN)")
struct ProgressByPlanTests {
    /// Two plans of three migrations; all but p-2's last have a runtime row with progress.
    static func filled(_ store: SQLiteStore) throws {
        for plan in ["p-1", "p-2"] {
            let migrations = (0..<3).map { PlanFixtures.migration("\(plan)-m\($0)", plan: plan, position: $0) }
            try store.submitPlan(PlanFixtures.plan(plan), migrations: migrations, events: [])
            for (i, m) in migrations.enumerated() where !(plan == "p-2" && i == 2) {
                try store.commitTransition(
                    migrationID: m.id, from: .pending, to: .scheduled, at: PlanFixtures.t0, commandSeq: 1, reason: "",
                    runtime: MigrationRuntime(token: "t", policy: .defaults),
                    event: PlanFixtures.event("phase_changed", plan: plan, migration: m.id))
                try store.recordProgress(
                    migrationID: m.id, progress: MigrationProgress(round: UInt32(i + 1), ramBytesSent: 100 * UInt64(i)),
                    at: PlanFixtures.t0)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func onlyThePlansOwnRowsAreRead(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try Self.filled(store)
        let one = try store.progress(planID: "p-1")
        #expect(Set(one.keys) == ["p-1-m0", "p-1-m1", "p-1-m2"])
        #expect(one["p-1-m2"]?.round == 3 && one["p-1-m2"]?.ramBytesSent == 200)
        // A migration without a runtime row has no progress, as in allProgress.
        #expect(Set(try store.progress(planID: "p-2").keys) == ["p-2-m0", "p-2-m1"])
        #expect(try store.progress(planID: "nope").isEmpty)
        // The per-plan rows are exactly the plan's share of allProgress.
        let all = try store.allProgress()
        #expect(all.count == 5)
        #expect(all.filter { $0.key.hasPrefix("p-1-") } == one)
    }

    @Test func theReadGoesThroughIndexesNotAScanOfTheHistory() throws {
        let (store, cleanup) = try StoreKind.inMemory.makeStore()
        defer { cleanup() }
        let plan = try store.explain(
            """
            SELECT r.migration_id, r.progress FROM migrations m
            JOIN migration_runtime r ON r.migration_id = m.id WHERE m.plan_id = 'p-1'
            """)
        #expect(plan.contains { $0.contains("migrations_by_plan") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
    }
}
