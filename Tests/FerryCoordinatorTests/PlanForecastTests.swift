import FerryModel
import FerryStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import FerryCoordinator

/// `plan validate`'s forecast: inputs gathered from the cluster and the history, JSON on the wire.
@Suite("Dry-run forecast")
struct PlanForecastTests {
    struct Validated: Decodable {
        var valid: Bool
        var migrations: [PlannedMigration]
        var prediction: PlanPrediction
    }

    @Test func validateReturnsAForecastPerMigrationAndForThePlan() async throws {
        let store = try PlanRoutesTests.store()
        let app = Application(router: APIServer.router(store: store, logger: Logger(label: "test")))
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/v1/plans:validate", method: .post, body: ByteBuffer(string: PlanRoutesTests.good)
            ) { response in
                #expect(response.status == .ok)
                let body = try PlanRoutesTests.decode(Validated.self, response.body)
                let p = body.prediction
                #expect(p.migrations.map(\.vmID) == ["vm-1", "vm-3"])
                // Uncapped: the assumed 10 Gb/s link is lower than two channels.
                let link = Double(LinkAssumptions.defaults.linkBytesPerSec)
                let vm1 = p.migrations[0].prediction
                #expect(vm1.bandwidthBytesPerSec == LinkAssumptions.defaults.linkBytesPerSec)
                #expect(vm1.precopySeconds == Double(4 << 30) / link)
                // vm-1's GPU reports 64 MiB of stop-copy data: that is its whole downtime.
                #expect(abs(vm1.downtimeMs - Double(64 << 20) / link * 1000) < 1e-9)
                #expect(vm1.notes.contains("no dirty-rate sample: assumed 0, so the forecast is a lower bound"))
                // vm-3 is in wave 2: it starts when vm-1 ends.
                #expect(p.migrations[1].startSeconds == p.migrations[0].endSeconds)
                #expect(p.durationSeconds == p.migrations[1].endSeconds)
                #expect(p.limits == .defaults)
                #expect(p.notes.contains("2 of 2 migrations have no dirty-rate sample (assumed 0)"))
            }
        }
        #expect(try store.plans().isEmpty)
    }

    static func migration(_ id: String, vm: String) -> Migration {
        Migration(
            id: id, planID: "p", position: 0, vmID: vm, sourceHostID: "host-a", destinationHostID: "host-b",
            wave: 1, priority: 0, ramBytes: 1 << 30)
    }

    @Test func theLatestMeasuredRoundOfAnEarlierMigrationIsTheSample() {
        let t = Date(timeIntervalSince1970: 1_764_000_000)
        let progress: [String: MigrationProgress] = [
            "old": MigrationProgress(
                round: 2, dirtyRateBytesPerSec: 5 << 20, bandwidthBytesPerSec: 1 << 30, updatedAt: t),
            "new": MigrationProgress(
                round: 4, dirtyRateBytesPerSec: 9 << 20, bandwidthBytesPerSec: 1 << 30,
                updatedAt: t.addingTimeInterval(60)),
            "unmeasured": MigrationProgress(updatedAt: t.addingTimeInterval(120)),
        ]
        let samples = PlanForecast.progressSamples(
            progress,
            [
                Self.migration("old", vm: "vm-1"), Self.migration("new", vm: "vm-1"),
                Self.migration("unmeasured", vm: "vm-1"),
            ])
        #expect(samples["vm-1"] == DirtyRateSample(bytesPerSec: 9 << 20, source: "migration new, round 4"))

        // The agent's own inventory figure wins over history.
        let vm = VM(
            id: "vm-1", ramBytes: 1 << 30, vcpus: 1, deviceIDs: [], state: .running, dirtyRateBytesPerSec: 7, pid: 1)
        #expect(
            PlanForecast.dirtyRate(vm, on: "host-a", samples: samples)
                == DirtyRateSample(bytesPerSec: 7, source: "inventory of host-a"))
        var quiet = vm
        quiet.dirtyRateBytesPerSec = 0
        #expect(PlanForecast.dirtyRate(quiet, on: "host-a", samples: samples) == samples["vm-1"])
        #expect(PlanForecast.dirtyRate(quiet, on: "host-a", samples: [:]) == nil)
    }
}
