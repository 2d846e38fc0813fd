import FerryCLI
import FerryModel
import FerryStore
import Foundation

/// Goal (issue 6): `status` p99 at most 10 ms with 100k events stored.
///
/// Per history size: a fresh store filled with 1,000 finished migrations (10 plans of 100) and
/// that many events, served by the real API; then requests exactly as ferryctl makes them, with
/// its client (decoding included), on random migrations and plans:
///   status MIGRATION  GET /v1/migrations?plan=ID, then GET /v1/migrations/ID (ferryctl tries a plan first)
///   status PLAN       GET /v1/migrations?plan=ID (100 migrations)
///   events MIGRATION  GET /v1/events?migration=ID
///   status            GET /v1/migrations (all 1,000)
/// and, in process, the store reads behind them (where the time goes).
struct StatusBench {
    struct Row {
        var events: Int
        var query: String
        var stats: Stats
    }

    var eventCounts: [Int]
    var requests: Int
    var plans = 10
    var migrationsPerPlan = 100

    /// The store's read queries behind these requests, for EXPLAIN QUERY PLAN.
    static let queries = [
        ("migrations of a plan", "SELECT * FROM migrations WHERE plan_id = 'p' ORDER BY position"),
        ("one migration", "SELECT * FROM migrations WHERE id = 'm'"),
        ("progress of one migration", "SELECT progress FROM migration_runtime WHERE migration_id = 'm'"),
        ("all progress", "SELECT migration_id, progress FROM migration_runtime"),
        ("events of a migration", "SELECT * FROM events WHERE seq > 0 AND migration_id = 'm' ORDER BY seq LIMIT 1000"),
        ("events of a plan", "SELECT * FROM events WHERE seq > 0 AND plan_id = 'p' ORDER BY seq LIMIT 1000"),
    ]

    func run(explain: (String, [String]) -> Void) async throws -> [Row] {
        var rows: [Row] = []
        var random = SplitMix64(seed: 42)
        for events in eventCounts {
            let server = try await BenchServer.start(name: "status\(events)")
            let fill = EventFill(plans: plans, migrationsPerPlan: migrationsPerPlan, events: events)
            try fill.fill(server.store)
            if events == eventCounts.last {
                for (name, sql) in Self.queries { explain(name, try server.store.explain(sql)) }
            }
            let client = server.client
            func pickMigration() -> String {
                EventFill.migrationID(
                    plan: Int(random.next() % UInt64(plans)), Int(random.next() % UInt64(migrationsPerPlan)))
            }
            func pickPlan() -> String { EventFill.planID(Int(random.next() % UInt64(plans))) }

            rows.append(
                Row(
                    events: events, query: "status MIGRATION",
                    stats: try await measure(requests) {
                        let id = pickMigration()
                        let asPlan = try await client.migrations(plan: id)
                        guard asPlan.value.migrations.isEmpty else { throw BenchError("\(id) listed as a plan") }
                        let one = try await client.migration(id: id)
                        guard one.value.progress?.round == 7 else { throw BenchError("\(id): no progress") }
                    }))
            rows.append(
                Row(
                    events: events, query: "status PLAN",
                    stats: try await measure(requests) {
                        let list = try await client.migrations(plan: pickPlan())
                        guard list.value.migrations.count == migrationsPerPlan else {
                            throw BenchError("a plan listed \(list.value.migrations.count) migrations")
                        }
                    }))
            rows.append(
                Row(
                    events: events, query: "events MIGRATION",
                    stats: try await measure(requests) {
                        let list = try await client.events(plan: nil, migration: pickMigration())
                        guard list.value.events.count == fill.perMigration else {
                            throw BenchError("\(list.value.events.count) events, expected \(fill.perMigration)")
                        }
                    }))
            // Where the time goes: the store reads behind them, in process (no HTTP, no JSON out).
            rows.append(
                Row(
                    events: events, query: "store: progress of a plan",
                    stats: try await measure(requests) { _ = try server.store.progress(planID: pickPlan()) }))
            rows.append(
                Row(
                    events: events, query: "store: all progress",
                    stats: try await measure(max(20, requests / 10)) { _ = try server.store.allProgress() }))
            rows.append(
                Row(
                    events: events, query: "store: migrations of a plan",
                    stats: try await measure(requests) { _ = try server.store.migrations(planID: pickPlan()) }))
            // ... and the JSON on both ends of status PLAN: ferryd writes it by hand (MigrationStatusJSON),
            // ferryctl reads it with JSONReader (Foundation's decoder, declared keys, is its fallback).
            let ofPlan = try await client.migrations(plan: pickPlan()).value.migrations
            let body = Data(MigrationStatusJSON.list(ofPlan))
            rows.append(
                Row(
                    events: events, query: "json: encode a plan's statuses",
                    stats: try await measure(requests) { _ = MigrationStatusJSON.list(ofPlan) }))
            rows.append(
                Row(
                    events: events, query: "json: decode a plan's statuses",
                    stats: try await measure(requests) {
                        guard JSONReader.read(MigrationList.self, from: body) != nil else {
                            throw BenchError("the fast reader refused a status list")
                        }
                    }))
            rows.append(
                Row(
                    events: events, query: "json: decode, Foundation (fallback)",
                    stats: try await measure(requests) {
                        _ = try FerryJSON.decoder(for: MigrationList.self).decode(MigrationList.self, from: body)
                    }))
            rows.append(
                Row(
                    events: events, query: "status (all)",
                    stats: try await measure(max(20, requests / 10)) {
                        let all = try await client.migrations(plan: nil)
                        guard all.value.migrations.count == fill.migrationCount else {
                            throw BenchError("status listed \(all.value.migrations.count) migrations")
                        }
                    }))
            await server.stop()
        }
        return rows
    }

    /// `count` timed calls after a few untimed ones (connection set up, caches warm).
    private func measure(_ count: Int, _ body: () async throws -> Void) async throws -> Stats {
        for _ in 0..<5 { try await body() }
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count { samples.append(try await timed(body)) }
        return Stats(samples)
    }
}

/// A small deterministic generator, so every run asks for the same ids.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
