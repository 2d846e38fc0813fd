import FerryModel
import Foundation
import Testing

/// ferryd driving real agents: a ferry-workload VM registered on host-a moves to host-b through a
/// submitted plan; a migration that cannot converge is cancelled mid-precopy and rolls back.
@Suite("Migration driver with real agents", .serialized)
struct MigrationDriverTests {
    static func workload() throws -> URL {
        let agent = try Binaries.agent()
        let url = agent.deletingLastPathComponent().appendingPathComponent("ferry-workload")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw IntegrationError.missingBinary(url.path, hint: "run `make -C agents`")
        }
        return url
    }

    /// ferryd + host-a + host-b, and a 64 MiB workload registered with host-a's agent as `vm-1`.
    static func cluster(dirtyRate: String, ferrydArguments: [String] = []) async throws -> (
        TestCluster, ManagedProcess
    ) {
        let cluster = try TestCluster()
        cluster.ferrydArguments = ferrydArguments
        try await cluster.startFerryd()
        try cluster.startAgent("host-a")
        try cluster.startAgent("host-b")
        let vm = try ManagedProcess(
            name: "workload-vm-1", executable: try workload(),
            arguments: [
                "--control", cluster.directory.appendingPathComponent("vm-1.ctl").path, "--ram", "64MiB", "--vcpus",
                "2", "--pattern", "uniform", "--seed", "7", "--dirty-rate", dirtyRate, "--agent-socket",
                cluster.directory.appendingPathComponent("host-a.sock").path, "--vm-id", "vm-1", "--log-level",
                "warning",
            ],
            directory: cluster.directory)
        let registered = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == "host-b" }?.status == .ready
        }
        #expect(registered, "vm-1 never showed in host-a's inventory\n\(cluster.logs())")
        return (cluster, vm)
    }

    static func submit(_ cluster: TestCluster, policy: String) async throws -> String {
        let plan = cluster.directory.appendingPathComponent("plan.yaml")
        try """
        name: move-vm-1
        policy:
        \(policy)
        migrations:
          - vm: vm-1
            source: host-a
            destination: host-b
        """.write(to: plan, atomically: true, encoding: .utf8)
        let out = try await cluster.ferryctl(["plan", "submit", plan.path, "--output", "json"])
        #expect(out.status == 0, "plan submit: \(out.stderr)\n\(cluster.logs())")
        let submitted = try FerryJSON.decoder().decode(SubmittedPlanBody.self, from: Data(out.stdout.utf8))
        return submitted.migrations[0].id
    }

    struct SubmittedPlanBody: Decodable { var migrations: [Migration] }

    static func status(_ cluster: TestCluster, _ id: String) async throws -> MigrationStatus? {
        let out = try await cluster.ferryctl(["status", id, "--output", "json"])
        guard out.status == 0 else { return nil }
        // A migration id names one migration: the body is its MigrationStatus.
        return try FerryJSON.decoder(for: MigrationStatus.self).decode(
            MigrationStatus.self, from: Data(out.stdout.utf8))
    }

    @Test("a one-VM plan completes: host-b lists the VM, the workload on host-a is gone")
    func planCompletes() async throws {
        let (cluster, vm) = try await Self.cluster(dirtyRate: "2000")
        let id = try await Self.submit(cluster, policy: "  max_downtime: 300ms\n  max_rounds: 30")
        var last: MigrationStatus?
        let ended = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            last = try await Self.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        #expect(ended, "migration never ended: \(String(describing: last))\n\(cluster.logs())")
        #expect(last?.migration.phase == .completed, "\(String(describing: last))\n\(cluster.logs())")
        #expect((last?.progress?.ramBytesSent ?? 0) >= 64 << 20 / 2)
        #expect((last?.progress?.actualDowntimeUs ?? 0) > 0)
        #expect(await vm.waitForExit(timeout: .seconds(30)) == 0, "the source workload did not exit")
        let onB = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == false
        }
        #expect(onB, "host-b does not list vm-1 (or host-a still does)\n\(cluster.logs())")
        let events = try await cluster.ferryctl(["events", "--migration", id])
        #expect(events.stdout.contains("precopy → cutover"), "\(events.stdout)")
        let metrics = try await runCommand(
            URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "\(cluster.serverURL)/metrics"])
        #expect(metrics.stdout.contains("ferry_migrations{phase=\"completed\"} 1.0\n"), "\(metrics.stdout)")
        #expect(metrics.stdout.contains("ferry_migration_downtime_seconds_count 1"), "\(metrics.stdout)")
    }

    @Test("cancel mid-precopy rolls back: the VM keeps running on host-a")
    func cancelRollsBack() async throws {
        // It cannot converge, so it is still in pre-copy when cancelled.
        let m = try await PrecopyMigration.start(
            dirtyRate: "50000", policy: PrecopyMigration.neverConverging,
            caught: { $0.migration.phase == .precopy && ($0.progress?.ramBytesSent ?? 0) > 0 })
        let cancel = try await m.cluster.ferryctl(["migration", "cancel", m.id])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        let last = try await m.ended(timeout: .seconds(60))
        #expect(last?.migration.phase == .cancelled, "\(String(describing: last))\n\(m.cluster.logs())")
        #expect(m.vm.isRunning, "the source workload is gone")
        let hosts = try await m.cluster.hosts() ?? []
        #expect(hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == true)
        #expect(hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } != true)
        // Past the end, cancel is refused with a reason.
        let again = try await m.cluster.ferryctl(["migration", "cancel", m.id])
        #expect(again.status == 1 && again.stderr.contains("cancel_refused"), "\(again.stderr)")
        m.vm.signal(SIGTERM)
    }
}
