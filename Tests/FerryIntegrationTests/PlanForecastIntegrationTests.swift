import FerryModel
import Foundation
import Testing

/// `ferryctl plan validate` against a real ferryd and agents: the forecast uses the inventory's
/// RAM, and after a migration the dirty rate that migration measured.
@Suite("Dry-run forecast with real agents", .serialized)
struct PlanForecastIntegrationTests {
    struct Validated: Decodable {
        var valid: Bool
        var prediction: PlanPrediction
    }

    static func validate(_ cluster: TestCluster, _ text: String) async throws -> (String, Validated) {
        let plan = cluster.directory.appendingPathComponent("dry-run.yaml")
        try text.write(to: plan, atomically: true, encoding: .utf8)
        let table = try await cluster.ferryctl(["plan", "validate", plan.path])
        #expect(table.status == 0, "\(table.stderr)")
        let json = try await cluster.ferryctl(["plan", "validate", plan.path, "--output", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        return (table.stdout, try FerryJSON.decoder().decode(Validated.self, from: Data(json.stdout.utf8)))
    }

    @Test("validate forecasts from the inventory, then from the dirty rate a real migration measured")
    func forecastUsesMeasuredDirtyRate() async throws {
        let (cluster, vm) = try await MigrationDriverTests.cluster(dirtyRate: "2000")
        let there =
            "name: there\npolicy:\n  bandwidth: 8MiB/s\nmigrations:\n  - {vm: vm-1, source: host-a, destination: host-b}\n"
        let (table, before) = try await Self.validate(cluster, there)
        #expect(table.contains(" no sample "), "\(table)")
        #expect(table.contains("plan: predicted duration "), "\(table)")
        let first = try #require(before.prediction.migrations.first).prediction
        #expect(first.bandwidthBytesPerSec == 8 << 20)
        // 64 MiB at 8 MiB/s, with nothing dirtied assumed: one 8 s pass.
        #expect(first.precopySeconds == 8 && first.rounds == 1)
        #expect(first.notes.contains("no dirty-rate sample: assumed 0, so the forecast is a lower bound"))

        let id = try await MigrationDriverTests.submit(cluster, policy: "  max_downtime: 300ms\n  max_rounds: 30")
        var last: MigrationStatus?
        let ended = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            last = try await MigrationDriverTests.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        #expect(ended && last?.migration.phase == .completed, "\(String(describing: last))\n\(cluster.logs())")
        #expect(last?.eta.note == "ended")
        let measured = try #require(last?.progress?.dirtyRateBytesPerSec)
        #expect(await vm.waitForExit(timeout: .seconds(30)) == 0)
        let back = try await eventually(timeout: .seconds(30)) {
            (try await cluster.hosts() ?? []).first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } == true
        }
        #expect(back, "vm-1 not on host-b")

        // Back again: the forecast now rests on what the migration measured.
        let (table2, after) = try await Self.validate(
            cluster,
            "name: back\npolicy:\n  bandwidth: 8MiB/s\nmigrations:\n  - {vm: vm-1, source: host-b, destination: host-a}\n"
        )
        let second = try #require(after.prediction.migrations.first).prediction
        if measured > 0 {
            #expect(second.dirtyRateBytesPerSec == measured)
            #expect(second.notes.contains { $0.hasPrefix("dirty rate") && $0.contains("from migration \(id), round") })
            #expect(!table2.contains(" no sample "), "\(table2)")
        } else {
            Issue.record("the migration measured no dirty rate; nothing to forecast from\n\(table2)")
        }
    }
}
