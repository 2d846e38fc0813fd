import FerryModel
import Testing

@Suite("Scheduler")
struct SchedulerTests {
    static func migration(
        _ id: String, _ source: String, _ destination: String, plan: String = "p1", position: Int = 0, wave: Int = 1,
        priority: Int = 0, phase: MigrationPhase = .pending
    ) -> Migration {
        Migration(
            id: id, planID: plan, position: position, vmID: "vm-\(id)", sourceHostID: source,
            destinationHostID: destination, wave: wave, priority: priority, ramBytes: 1 << 30, phase: phase)
    }

    @Test("without reasons (dry-run timelines) the same migrations are admitted, pass after pass")
    func reasonsDoNotChangeAdmission() {
        for (seed, limits) in [
            (1, SchedulerLimits(cluster: 5, outboundPerHost: 2, inboundPerHost: 2)),
            (2, SchedulerLimits(cluster: 3, outboundPerHost: 1, inboundPerHost: 3)),
            (3, SchedulerLimits(cluster: 50, outboundPerHost: 4, inboundPerHost: 1)),
            (4, SchedulerLimits(cluster: 0, outboundPerHost: 2, inboundPerHost: 2)),
        ] {
            var state = UInt64(seed)
            func next(_ n: Int) -> Int {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((state >> 33) % UInt64(n))
            }
            var migrations = (0..<300).map { i in
                Self.migration(
                    "m\(i)", "h\(next(15))", "h\(next(15))", plan: "p\(next(3))", position: i, wave: next(3),
                    priority: next(2))
            }
            for _ in 0..<200 {
                let full = Scheduler.schedule(migrations, planOrder: ["p0", "p1", "p2"], limits: limits)
                let fast = Scheduler.schedule(
                    migrations, planOrder: ["p0", "p1", "p2"], limits: limits, reasons: false)
                #expect(fast.admit == full.admit, "seed \(seed)")
                for id in full.admit { migrations[Int(id.dropFirst())!].phase = .precopy }
                // Complete a few running ones, as a timeline would.
                for i in migrations.indices where migrations[i].phase == .precopy && next(3) == 0 {
                    migrations[i].phase = .completed
                }
            }
        }
    }

    @Test func manyMigrationsNeverExceedAnyCap() {
        // 200 migrations over 20 hosts, admitted pass after pass as the admitted ones complete.
        var migrations = (0..<200).map { i in
            Self.migration("m\(i)", "h\(i % 20)", "h\((i * 7 + 3) % 20)", position: i)
        }
        let limits = SchedulerLimits(cluster: 5, outboundPerHost: 2, inboundPerHost: 2)
        var passes = 0
        while migrations.contains(where: { $0.phase != .completed }) {
            passes += 1
            let decision = Scheduler.schedule(migrations, planOrder: ["p1"], limits: limits)
            for id in decision.admit { migrations[Int(id.dropFirst())!].phase = .scheduled }
            let active = migrations.filter(\.phase.isActive)
            #expect(active.count <= 5)
            #expect(Dictionary(grouping: active, by: \.sourceHostID).values.allSatisfy { $0.count <= 2 })
            #expect(Dictionary(grouping: active, by: \.destinationHostID).values.allSatisfy { $0.count <= 2 })
            // Every pending migration is either admitted or told why it waits.
            let pending = migrations.filter { $0.phase == .pending }.map(\.id)
            #expect(Set(pending) == Set(decision.waiting.keys))
            #expect(!active.isEmpty)
            for i in migrations.indices where migrations[i].phase.isActive { migrations[i].phase = .completed }
        }
        #expect(passes >= 40)  // 200 migrations, at most 5 per pass
    }

    @Test func clusterCapExplainsTheWait() {
        let migrations = (0..<7).map { Self.migration("m\($0)", "s\($0)", "d\($0)", position: $0) }
        let decision = Scheduler.schedule(migrations, planOrder: ["p1"])
        #expect(decision.admit == ["m0", "m1", "m2", "m3", "m4"])
        #expect(decision.waiting["m5"] == .clusterCap(active: 5, limit: 5))
        #expect(decision.waiting["m6"]?.description == "cluster cap: 5 of 5 migrations running")
    }

    @Test func busySourceDoesNotBlockOtherHosts() {
        let migrations = [
            Self.migration("a", "h1", "h2", position: 0, phase: .precopy),
            Self.migration("b", "h1", "h3", position: 1, phase: .preparing),
            Self.migration("c", "h1", "h4", position: 2),
            Self.migration("d", "h5", "h6", position: 3),
            Self.migration("e", "h7", "h2", position: 4),
            Self.migration("f", "h8", "h2", position: 5),
        ]
        let decision = Scheduler.schedule(migrations, planOrder: ["p1"])
        #expect(decision.admit == ["d", "e"])
        #expect(decision.waiting["c"] == .outboundCap(host: "h1", active: 2, limit: 2))
        #expect(decision.waiting["f"] == .inboundCap(host: "h2", active: 2, limit: 2))
    }

    @Test func laterWaveWaitsForEarlierWaveToEnd() {
        var migrations = [
            Self.migration("w1a", "h1", "h2", position: 0, wave: 1, phase: .precopy),
            Self.migration("w1b", "h3", "h4", position: 1, wave: 1, phase: .completed),
            Self.migration("w2", "h5", "h6", position: 2, wave: 2),
            Self.migration("w3", "h7", "h8", position: 3, wave: 3),
            Self.migration("other", "h9", "h10", plan: "p2", position: 0, wave: 2),
        ]
        var decision = Scheduler.schedule(migrations, planOrder: ["p1", "p2"])
        #expect(decision.admit == ["other"])  // waves are per plan
        #expect(decision.waiting["w2"] == .earlierWave(wave: 1, unfinished: 1))
        #expect(decision.waiting["w3"] == .earlierWave(wave: 1, unfinished: 1))
        migrations[0].phase = .rolledBack  // any ending finishes the wave
        decision = Scheduler.schedule(migrations, planOrder: ["p1", "p2"])
        #expect(decision.admit == ["w2", "other"])
        #expect(decision.waiting["w3"] == .earlierWave(wave: 2, unfinished: 1))
    }

    @Test func priorityThenPlanOrderThenPosition() {
        let migrations = [
            Self.migration("late-plan", "h1", "h2", plan: "p2", position: 0),
            Self.migration("second", "h3", "h4", plan: "p1", position: 1),
            Self.migration("first", "h5", "h6", plan: "p1", position: 0),
            Self.migration("urgent", "h7", "h8", plan: "p2", position: 1, priority: 10),
        ]
        let limits = SchedulerLimits(cluster: 3, outboundPerHost: 2, inboundPerHost: 2)
        let decision = Scheduler.schedule(migrations, planOrder: ["p1", "p2"], limits: limits)
        #expect(decision.admit == ["urgent", "first", "second"])
        #expect(decision.waiting["late-plan"] == .clusterCap(active: 3, limit: 3))
    }

    @Test func unreachableHostsHoldTheirMigrations() {
        let migrations = [Self.migration("a", "h1", "down", position: 0), Self.migration("b", "h1", "h2", position: 1)]
        let decision = Scheduler.schedule(migrations, planOrder: ["p1"], unreachableHosts: ["down"])
        #expect(decision.admit == ["b"])
        #expect(decision.waiting["a"] == .hostUnreachable(host: "down"))
    }
}
