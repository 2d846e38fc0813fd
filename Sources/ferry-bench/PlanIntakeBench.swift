import FerryCLI
import FerryCoordinator
import FerryModel
import Foundation

/// Goal (issue 6): a 1,000-migration plan validated and stored in at most 1 s.
///
/// Per plan size and run, on a fresh store with 100 registered hosts: parse + validate in process
/// (PlanIntake, the routes' one path, with the hosts and unfinished migrations read from SQLite),
/// then `POST /v1/plans:validate` (dry run) and `POST /v1/plans` (validate + store in one SQLite
/// transaction) over real HTTP with ferryctl's client.
struct PlanIntakeBench {
    struct Row {
        var size: Int
        var validate: Stats
        var dryRun: Stats
        var submit: Stats
    }

    static let hosts = 100

    var sizes: [Int]
    var runs: Int

    func run() async throws -> [Row] {
        var rows: [Row] = []
        for size in sizes {
            var validate: [Double] = []
            var dryRun: [Double] = []
            var submit: [Double] = []
            for run in 0..<runs {
                let server = try await BenchServer.start(name: "plan\(size)-\(run)")
                let vmsPerHost = (size + Self.hosts - 1) / Self.hosts
                for host in ClusterFixture.hosts(count: Self.hosts, vmsPerHost: vmsPerHost, now: Date()) {
                    try server.store.upsertHost(host)
                }
                let text = ClusterFixture.planYAML(name: "bench-\(size)", size: size, hosts: Self.hosts)
                validate.append(
                    try await timed {
                        let known = try server.store.hosts()
                        let active = try server.store.unfinishedMigrations()
                        let accepted = try PlanIntake.check(
                            text, file: "bench.yaml", hosts: known, activeMigrations: active
                        ).get()
                        guard accepted.migrations.count == size else {
                            throw BenchError("validation resolved \(accepted.migrations.count) of \(size) migrations")
                        }
                    })
                dryRun.append(
                    try await timed {
                        _ = try await server.client.submitPlan(Data(text.utf8), file: "bench.yaml", dryRun: true)
                    })
                var body = Data()
                submit.append(
                    try await timed {
                        body = try await server.client.submitPlan(Data(text.utf8), file: "bench.yaml", dryRun: false)
                            .body
                    })
                let stored = try FerryJSON.decoder().decode(SubmittedPlan.self, from: body)
                let reread = try server.store.migrations(planID: stored.plan.id)
                guard stored.migrations.count == size, reread.count == size else {
                    throw BenchError("plan of \(size): \(reread.count) migrations stored")
                }
                await server.stop()
            }
            rows.append(Row(size: size, validate: Stats(validate), dryRun: Stats(dryRun), submit: Stats(submit)))
        }
        return rows
    }
}
