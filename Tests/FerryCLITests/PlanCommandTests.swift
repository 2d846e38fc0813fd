import FerryCLI
import FerryModel
import Foundation
import Testing

@Suite("ferryctl plan and events")
struct PlanCommandTests {
    static let now = Date(timeIntervalSince1970: 1_764_000_000)

    static func run(_ arguments: [String]) async -> CommandResult {
        await Ferryctl.execute(arguments, context: CommandContext(environment: [:], now: now))
    }

    static func planFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).yaml").path
        try "name: x\nmigrations: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let rejection = #"""
        {"error":{"code":"invalid_plan","message":"the plan has 2 problems","problems":[
        {"file":"p.yaml","line":3,"field":"migrations[0].vm","reason":"unknown VM 'vm-9': no host reports it"},
        {"file":"p.yaml","line":7,"field":"policy.max_downtime","reason":"'300' has no unit (expected ms, s, m or h)"}]}}
        """#

    @Test func validatePrintsEveryProblemOnePerLineAndExits1() async throws {
        let server = try CannedHTTPServer(status: 422, body: Self.rejection)
        defer { server.stop() }
        let file = try Self.planFile()
        let result = await Self.run(["plan", "validate", file, "--server", server.url])
        #expect(result.exitCode == 1)
        #expect(
            result.stdout == """
                p.yaml:3: migrations[0].vm: unknown VM 'vm-9': no host reports it
                p.yaml:7: policy.max_downtime: '300' has no unit (expected ms, s, m or h)

                """)
        #expect(result.stderr == "ferryctl: invalid_plan: the plan has 2 problems\n")
        #expect(server.requestedPaths.count == 1)
        #expect(server.requestedPaths[0].hasPrefix("/v1/plans:validate?file="))
    }

    @Test func rejectedSubmitInJSONIsTheBodyVerbatim() async throws {
        let server = try CannedHTTPServer(status: 422, body: Self.rejection)
        defer { server.stop() }
        let result = await Self.run(["plan", "submit", try Self.planFile(), "--output", "json", "--server", server.url])
        #expect(result.exitCode == 1)
        #expect(result.stdout == Self.rejection + "\n")
    }

    @Test func missingFileIsNamed() async {
        let result = await Self.run(["plan", "submit", "/nonexistent/plan.yaml", "--server", "http://127.0.0.1:1"])
        #expect(result.exitCode == 1)
        #expect(result.stderr.hasPrefix("ferryctl: cannot read /nonexistent/plan.yaml: "))
    }

    @Test func showRendersTheMigrationTable() async throws {
        let body = #"""
            {"plan":{"id":"plan-1","name":"rack","file_name":"p.yaml","source":"","submitted_at":"2026-11-25T10:00:00Z",
             "policy":{"max_downtime_ms":300,"bandwidth_bytes_per_sec":0,"completion_seconds_per_gi_b":150,
              "no_progress_window_seconds":150,"max_rounds":30,"auto_converge":false,"channels":2,"priority":0}},
             "status":"running",
             "migrations":[{"id":"plan-1-1","plan_id":"plan-1","position":0,"vm_id":"vm-1","source_host_id":"a",
              "destination_host_id":"b","wave":1,"priority":0,"ram_bytes":4294967296,"phase":"pending",
              "phase_times":[{"phase":"pending","at":"2026-11-25T10:00:00Z"}],"command_seq":0,"reason":""}]}
            """#
        let server = try CannedHTTPServer(status: 200, body: body)
        defer { server.stop() }
        let result = await Self.run(["plan", "show", "plan-1", "--server", server.url])
        #expect(result.stderr == "")
        #expect(
            result.stdout == """
                plan plan-1 'rack' (p.yaml): running
                ID        VM    SOURCE  DESTINATION  WAVE  PRIORITY  RAM      PHASE    REASON
                plan-1-1  vm-1  a       b            1     0         4.0 GiB  pending

                """)
        #expect(server.requestedPaths == ["/v1/plans/plan-1"])
    }

    @Test func cancelListsOutcomes() async throws {
        let server = try CannedHTTPServer(
            status: 200,
            body:
                #"{"cancelled":["p-1"],"refused":[{"migration_id":"p-2","reason":"the point of no return was passed"}]}"#
        )
        defer { server.stop() }
        let result = await Self.run(["plan", "cancel", "p", "--server", server.url])
        #expect(result.stdout == "p-1: cancelled\np-2: not cancelled: the point of no return was passed\n")
        #expect(server.requestedPaths == ["/v1/plans/p/cancel"])
    }

    @Test func eventsFilterByMigration() async throws {
        let server = try CannedHTTPServer(
            status: 200,
            body:
                #"{"events":[{"seq":4,"at":"2026-11-25T10:00:00Z","plan_id":"p","migration_id":"p-1","kind":"phase_changed","message":"pending → cancelled","attributes":[]}]}"#
        )
        defer { server.stop() }
        let result = await Self.run(["events", "--migration", "p-1", "--server", server.url])
        #expect(
            result.stdout
                == "SEQ  AT                    MIGRATION  KIND           MESSAGE\n4    2026-11-25T10:00:00Z  p-1        phase_changed  pending → cancelled\n"
        )
        #expect(server.requestedPaths == ["/v1/events?migration=p-1"])
    }

    @Test func planNeedsASubcommandAndAFile() async {
        let result = await Self.run(["plan", "submit"])
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("Missing expected argument '<file>'"))
    }

    @Test func validateShowsTheForecastTableAndPlanTotals() async throws {
        let planned = [
            PlannedMigration(
                vmID: "vm-1", sourceHostID: "a", destinationHostID: "b", wave: 1, priority: 0, ramBytes: 1 << 30,
                line: 3),
            PlannedMigration(
                vmID: "vm-2", sourceHostID: "a", destinationHostID: "c", wave: 2, priority: 0, ramBytes: 1 << 30,
                line: 4),
        ]
        var policy = MigrationPolicy.defaults
        policy.bandwidthBytesPerSec = 100 << 20
        let predictions = [
            MigrationPrediction.predict(
                ramBytes: 1 << 30, dirtyRate: nil, deviceStopCopyBytes: 0, policy: policy),
            MigrationPrediction.predict(
                ramBytes: 1 << 30, dirtyRate: DirtyRateSample(bytesPerSec: 10 << 20, source: "migration m-1, round 3"),
                deviceStopCopyBytes: 60 << 20, policy: policy),
        ]
        let prediction = PlanPrediction.predict(planned, predictions: predictions, limits: .defaults)
        let validated = ValidatedPlan(valid: true, migrations: planned, prediction: prediction)
        let body = String(decoding: try FerryJSON.encoder().encode(validated), as: UTF8.self)
        let server = try CannedHTTPServer(status: 200, body: body)
        defer { server.stop() }
        let file = try Self.planFile()

        let table = await Self.run(["plan", "validate", file, "--server", server.url])
        #expect(table.exitCode == 0 && table.stderr == "")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "\(file): valid, 2 migrations")
        #expect(
            lines[1].hasPrefix("LINE  VM    SOURCE  DESTINATION  WAVE  PRIORITY  RAM      BANDWIDTH"), "\(lines[1])")
        #expect(lines[1].hasSuffix("DOWNTIME  DURATION  STARTS AT  FORECAST"), "\(lines[1])")
        #expect(lines[2].contains(" no sample ") && lines[2].hasSuffix("fits budget"), "\(lines[2])")
        #expect(lines[3].contains(" 10.0 MiB/s ") && lines[3].hasSuffix("over budget"), "\(lines[3])")
        #expect(
            lines[4].hasPrefix("plan: predicted duration ") && lines[4].contains("1 over budget")
                && lines[4].hasSuffix("(caps: cluster 5, outbound 2, inbound 2 per host)"), "\(lines[4])")
        #expect(lines.contains("note: 1 of 2 migrations have no dirty-rate sample (assumed 0)"))
        #expect(lines.contains("note: bandwidth 100.0 MiB/s (policy cap)"))
        #expect(lines.contains { $0.hasPrefix("note: vm-2: does not fit the 300 ms budget within 30 rounds") })

        let json = await Self.run(["plan", "validate", file, "--output", "json", "--server", server.url])
        #expect(json.exitCode == 0)
        let decoded = try FerryJSON.decoder().decode(ValidatedPlan.self, from: Data(json.stdout.utf8))
        #expect(decoded.prediction == prediction)
    }
}
