import FerryModel
import Foundation
import Testing

/// An agent that stays unreachable during pre-copy, with real agents and a 2 s host-loss window.
@Suite("Agents that stay unreachable, with real agents", .serialized)
struct HostLossTests {
    static let window = ["--host-loss-window-ms", "2000"]

    /// The source agent stopped in round 0 until ferryd gives up on it: the migration ends `failed`.
    static func sourceGivenUp() async throws -> PrecopyMigration {
        let m = try await PrecopyMigration.start(ferrydArguments: Self.window)
        try #require(m.cluster.agents["host-a"]).signal(SIGSTOP)
        let last = try await m.ended()
        #expect(last?.migration.phase == .failed, "\(String(describing: last))\n\(m.cluster.logs())")
        #expect(
            last?.migration.reason.contains("source host host-a unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        // The VM never left host-a: its workload runs (only the agent was stopped).
        #expect(m.vm.isRunning, "the source workload is gone")
        return m
    }

    /// The source agent resumed: its report on return is recorded, the VM is on host-a alone.
    static func expectReconciledOnReturn(_ m: PrecopyMigration) async throws -> [Event] {
        try #require(m.cluster.agents["host-a"]).signal(SIGCONT)
        var history: [Event] = []
        let reconciled = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            history = try await m.events()
            return history.contains { $0.kind == "agent_reconciled" }
        }
        #expect(reconciled, "the source's return was not recorded\n\(m.cluster.logs())")
        let report = history.first { $0.kind == "agent_reconciled" }
        #expect(report?.attributes["agent_phase"] == "rolled_back", "\(String(describing: report))")
        let decision = history.first { $0.kind == "abort_requested" }
        #expect(decision?.attributes["decision"] == "host_unreachable", "\(history.map(\.kind))")
        #expect(decision?.attributes["window_s"] == "2")
        // The query on its return used a further seq: compare with the migration as stored now.
        let now = try #require(try await m.status())
        #expect(now.migration.phase == .failed)
        RestartRecoveryTests.expectConsistent(history, final: now.migration)
        #expect(try await m.vmListed(on: "host-a", notOn: "host-b"), "vm-1 is not on host-a alone\n\(m.cluster.logs())")
        #expect(m.vm.isRunning)
        return history
    }

    @Test(
        "source agent stopped mid-precopy: ferryd ends the migration failed, the source reports its rollback on return")
    func sourceStopped() async throws {
        let m = try await Self.sourceGivenUp()
        _ = try await Self.expectReconciledOnReturn(m)
        m.vm.signal(SIGTERM)
    }

    @Test(
        "ferryd killed between giving up on the source and its return: the restarted ferryd records its rollback")
    func sourceReturnsAfterRestart() async throws {
        let m = try await Self.sourceGivenUp()
        try await m.restartFerryd()
        let history = try await Self.expectReconciledOnReturn(m)
        // The give-up names the Abort the source had missed, and the restarted ferryd sent it again.
        let givenUp = try #require(history.first { $0.attributes["given_up"] == "source" })
        let abortSeq = try #require(givenUp.attributes["given_up_abort_seq"])
        let issued = history.compactMap { $0.attributes["commands"] }.joined(separator: ",")
        #expect(issued.contains("source:abort#\(abortSeq)"), "\(issued)")
        let log = try String(contentsOf: try #require(m.cluster.ferryd).logURL, encoding: .utf8)
        let resent = log.split(separator: "\n").contains {
            $0.contains("command sent") && $0.contains("body=abort") && $0.contains("seq=\(abortSeq) ")
                && $0.contains("role=source")
        }
        #expect(resent, "the restarted ferryd did not send abort #\(abortSeq) to the source\n\(m.cluster.logs())")
        #expect(history.filter { $0.kind == "agent_reconciled" }.count == 1)
        m.vm.signal(SIGTERM)
    }

    @Test("destination agent stopped mid-precopy: the source rolls back, the migration ends rolled_back")
    func destinationStopped() async throws {
        let m = try await PrecopyMigration.start(ferrydArguments: Self.window)
        let destination = try #require(m.cluster.agents["host-b"])
        destination.signal(SIGSTOP)

        let last = try await m.ended()
        #expect(last?.migration.phase == .rolledBack, "\(String(describing: last))\n\(m.cluster.logs())")
        #expect(
            last?.migration.reason.contains("destination host host-b unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        #expect(m.vm.isRunning, "the source workload is gone")
        RestartRecoveryTests.expectConsistent(try await m.events(), final: try #require(last).migration)
        destination.signal(SIGCONT)
        m.vm.signal(SIGTERM)
    }
}
