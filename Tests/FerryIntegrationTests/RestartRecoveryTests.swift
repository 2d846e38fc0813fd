import FerryModel
import Foundation
import Testing

/// kill -9 ferryd in the middle of pre-copy, start it again on the same data dir and agents port.
/// The design (DESIGN.md, "continue, or roll back safely"; `MigrationDriver.recover()`): the agents
/// keep migrating through the absence, the restarted ferryd re-attaches the pre-copy migration and
/// asks both agents where it stands, so a migration that can converge ends `completed`.
@Suite("Restart recovery with real agents", .serialized)
struct RestartRecoveryTests {
    struct EventList: Decodable { var events: [Event] }

    static func events(_ cluster: TestCluster, _ id: String) async throws -> [Event] {
        let out = try await cluster.ferryctl(["events", "--migration", id, "--output", "json"])
        #expect(out.status == 0, "events: \(out.stderr)")
        return try FerryJSON.decoder().decode(EventList.self, from: Data(out.stdout.utf8)).events
    }

    @Test("kill -9 ferryd mid-precopy, restart: the migration completes, the store is consistent")
    func killDuringPrecopy() async throws {
        // Killed while round 0 (all of RAM at 8 MiB/s) is on the wire; later rounds converge.
        let m = try await PrecopyMigration.start()
        try await m.restartFerryd()
        let stored = try await m.status()
        #expect(
            !(stored?.migration.phase.isTerminal ?? true), "ended before the restart: \(String(describing: stored))")

        let last = try await m.ended()
        #expect(last?.migration.phase == .completed, "\(String(describing: last))\n\(m.cluster.logs())")
        // The VM runs on exactly one host: the source workload handed over and exited.
        #expect(await m.vm.waitForExit(timeout: .seconds(30)) == 0, "the source workload did not exit")
        #expect(try await m.vmListed(on: "host-b", notOn: "host-a"), "vm-1 is not on host-b alone\n\(m.cluster.logs())")

        let history = try await m.events()
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "agents_queried" }, "the restarted ferryd never re-attached")
    }

    @Test("kill -9 ferryd during a rollback, restart: the rollback resumes, the VM stays on host-a")
    func killDuringRollback() async throws {
        // It cannot converge, so it is still in pre-copy when cancelled.
        let m = try await PrecopyMigration.start(
            dirtyRate: "50000", policy: PrecopyMigration.neverConverging, caught: PrecopyMigration.inPrecopy)

        // Freeze the source agent so the Abort cannot be carried out, cancel (ferryd commits the
        // rollback before sending), then kill ferryd with the rollback unfinished.
        let source = try #require(m.cluster.agents["host-a"])
        source.signal(SIGSTOP)
        let cancel = try await m.cluster.ferryctl(["migration", "cancel", m.id])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        try await m.restartFerryd()
        let stored = try await m.status()
        #expect(stored?.migration.phase == .precopy, "\(String(describing: stored))")
        source.signal(SIGCONT)

        let last = try await m.ended()
        #expect(last?.migration.phase == .cancelled, "\(String(describing: last))\n\(m.cluster.logs())")
        #expect(m.vm.isRunning, "the source workload is gone")
        #expect(try await m.vmListed(on: "host-a", notOn: "host-b"), "vm-1 is not on host-a alone\n\(m.cluster.logs())")

        let history = try await m.events()
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "rollback_resumed" }, "the restarted ferryd did not resume the rollback")
        m.vm.signal(SIGTERM)
    }

    @Test(
        "kill -9 ferryd and the source agent mid-precopy, restart ferryd: past the window it ends failed, host-b lets go"
    )
    func killFerrydAndSourceAgent() async throws {
        let m = try await PrecopyMigration.start(ferrydArguments: HostLossTests.window)
        try await m.restartFerryd(alsoKilling: ["host-a"])
        let last = try await m.ended(timeout: .seconds(60))
        // Nobody can confirm where the VM runs: failed, not rolled_back, and the reason says why.
        #expect(last?.migration.phase == .failed, "\(String(describing: last))\n\(m.cluster.logs())")
        #expect(
            last?.migration.reason.contains("source host host-a unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        // The VM never left: its process on host-a runs; host-b released what it had received.
        #expect(m.vm.isRunning, "the source workload is gone")
        let released = try await eventually(timeout: .seconds(30)) {
            let hosts = try await m.cluster.hosts() ?? []
            return hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } == false
        }
        #expect(released, "host-b still lists vm-1\n\(m.cluster.logs())")

        let history = try await m.events()
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "agents_queried" }, "the restarted ferryd never re-attached")
        #expect(history.contains { $0.attributes["decision"] == "host_unreachable" }, "\(history.map(\.kind))")
        m.vm.signal(SIGTERM)
    }

    /// One chain of phases ending once, in seq order; every command seq names one command only.
    static func expectConsistent(_ history: [Event], final migration: Migration) {
        let seqs = history.map(\.seq)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "events out of order: \(seqs)")

        let changes = history.filter { $0.kind == "phase_changed" }
        var phase = MigrationPhase.pending.rawValue
        for change in changes {
            #expect(change.attributes["from"] == phase, "\(change.message) does not follow \(phase)")
            phase = change.attributes["to"] ?? "?"
        }
        #expect(phase == migration.phase.rawValue)
        let terminal = changes.filter { MigrationPhase(rawValue: $0.attributes["to"] ?? "")?.isTerminal == true }
        #expect(terminal.count == 1, "\(terminal.count) final phases")
        let timed = migration.phaseTimes.map(\.phase)
        #expect(timed.filter(\.isTerminal) == [migration.phase], "phase times: \(timed)")

        // "role:name#seq" per command: a seq reused for another command is what the agent's command
        // table would refuse (or answer from its record for the wrong command).
        var commandBySeq: [UInt64: String] = [:]
        var issuedOrder: [UInt64] = []
        for event in history {
            for command in (event.attributes["commands"] ?? "").split(separator: ",") {
                let parts = command.split(separator: "#")
                guard parts.count == 2, let seq = UInt64(parts[1]) else {
                    Issue.record("bad command entry \(command)")
                    continue
                }
                #expect(commandBySeq[seq] == nil, "seq \(seq) issued twice: \(commandBySeq[seq] ?? "") and \(parts[0])")
                commandBySeq[seq] = String(parts[0])
                issuedOrder.append(seq)
            }
        }
        #expect(issuedOrder == issuedOrder.sorted(), "seqs not issued in order: \(issuedOrder)")
        #expect(issuedOrder.last == migration.commandSeq, "stored seq \(migration.commandSeq), issued \(issuedOrder)")
    }
}
