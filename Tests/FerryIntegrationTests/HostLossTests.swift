import FerryModel
import Foundation
import Testing

/// An agent that stays unreachable during pre-copy, with real agents and a 2 s host-loss window.
@Suite("Agents that stay unreachable, with real agents", .serialized)
struct HostLossTests {
    static let window = ["--host-loss-window-ms", "2000"]

    static func ended(_ cluster: TestCluster, _ id: String) async throws -> MigrationStatus? {
        var last: MigrationStatus?
        _ = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            last = try await MigrationDriverTests.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        return last
    }

    @Test(
        "source agent stopped mid-precopy: ferryd ends the migration failed, the source reports its rollback on return")
    func sourceStopped() async throws {
        let (cluster, vm) = try await MigrationDriverTests.cluster(dirtyRate: "200", ferrydArguments: Self.window)
        let id = try await MigrationDriverTests.submit(
            cluster, policy: "  max_downtime: 300ms\n  bandwidth: 8MiB/s\n  max_rounds: 30")
        let inPrecopy = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            let s = try await MigrationDriverTests.status(cluster, id)
            return s?.migration.phase == .precopy && s?.progress?.updatedAt == nil
        }
        #expect(inPrecopy, "never caught in pre-copy\n\(cluster.logs())")
        let source = try #require(cluster.agents["host-a"])
        source.signal(SIGSTOP)

        let last = try await Self.ended(cluster, id)
        #expect(last?.migration.phase == .failed, "\(String(describing: last))\n\(cluster.logs())")
        #expect(
            last?.migration.reason.contains("source host host-a unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        // The VM never left host-a: its workload runs (only the agent was stopped).
        #expect(vm.isRunning, "the source workload is gone")

        source.signal(SIGCONT)
        var history: [Event] = []
        let reconciled = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            history = try await RestartRecoveryTests.events(cluster, id)
            return history.contains { $0.kind == "agent_reconciled" }
        }
        #expect(reconciled, "the source's return was not recorded\n\(cluster.logs())")
        let report = history.first { $0.kind == "agent_reconciled" }
        #expect(report?.attributes["agent_phase"] == "rolled_back", "\(String(describing: report))")
        let decision = history.first { $0.kind == "abort_requested" }
        #expect(decision?.attributes["decision"] == "host_unreachable", "\(history.map(\.kind))")
        #expect(decision?.attributes["window_s"] == "2")
        // The query on its return used a further seq: compare with the migration as stored now.
        let now = try #require(try await MigrationDriverTests.status(cluster, id))
        #expect(now.migration.phase == .failed)
        RestartRecoveryTests.expectConsistent(history, final: now.migration)

        let onA = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } != true
        }
        #expect(onA, "vm-1 is not on host-a alone\n\(cluster.logs())")
        #expect(vm.isRunning)
        vm.signal(SIGTERM)
    }

    @Test("destination agent stopped mid-precopy: the source rolls back, the migration ends rolled_back")
    func destinationStopped() async throws {
        let (cluster, vm) = try await MigrationDriverTests.cluster(dirtyRate: "200", ferrydArguments: Self.window)
        let id = try await MigrationDriverTests.submit(
            cluster, policy: "  max_downtime: 300ms\n  bandwidth: 8MiB/s\n  max_rounds: 30")
        let inPrecopy = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            let s = try await MigrationDriverTests.status(cluster, id)
            return s?.migration.phase == .precopy && s?.progress?.updatedAt == nil
        }
        #expect(inPrecopy, "never caught in pre-copy\n\(cluster.logs())")
        let destination = try #require(cluster.agents["host-b"])
        destination.signal(SIGSTOP)

        let last = try await Self.ended(cluster, id)
        #expect(last?.migration.phase == .rolledBack, "\(String(describing: last))\n\(cluster.logs())")
        #expect(
            last?.migration.reason.contains("destination host host-b unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        #expect(vm.isRunning, "the source workload is gone")
        let history = try await RestartRecoveryTests.events(cluster, id)
        RestartRecoveryTests.expectConsistent(history, final: try #require(last).migration)
        destination.signal(SIGCONT)
        vm.signal(SIGTERM)
    }
}
