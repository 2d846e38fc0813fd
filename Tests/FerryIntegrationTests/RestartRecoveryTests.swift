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
        // 200 pages/s on 64 MiB at 8 MiB/s: the first pass takes about 8 s, later rounds converge.
        let (cluster, vm) = try await MigrationDriverTests.cluster(dirtyRate: "200")
        let id = try await MigrationDriverTests.submit(
            cluster, policy: "  max_downtime: 300ms\n  bandwidth: 8MiB/s\n  max_rounds: 30")
        // The source reports at the end of each round, so "mid pre-copy" is: in pre-copy, round 0
        // not reported yet (the first pass of 64 MiB is on the wire).
        let midPrecopy = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            let s = try await MigrationDriverTests.status(cluster, id)
            return s?.migration.phase == .precopy && s?.progress?.updatedAt == nil
        }
        #expect(midPrecopy, "never caught mid pre-copy\n\(cluster.logs())")
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        let old = try #require(cluster.ferryd)
        old.signal(SIGKILL)
        #expect(await old.waitForExit(timeout: .seconds(10)) != nil, "ferryd survived SIGKILL")

        try await cluster.startFerryd(agentsListen: agentsListen)
        let stored = try await MigrationDriverTests.status(cluster, id)
        #expect(
            !(stored?.migration.phase.isTerminal ?? true), "ended before the restart: \(String(describing: stored))")

        var last: MigrationStatus?
        let ended = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            last = try await MigrationDriverTests.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        #expect(ended, "never ended after the restart: \(String(describing: last))\n\(cluster.logs())")
        #expect(last?.migration.phase == .completed, "\(String(describing: last))\n\(cluster.logs())")

        // The VM runs on exactly one host: the source workload handed over and exited.
        #expect(await vm.waitForExit(timeout: .seconds(30)) == 0, "the source workload did not exit")
        let onB = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == false
        }
        #expect(onB, "vm-1 is not on host-b alone\n\(cluster.logs())")

        let history = try await Self.events(cluster, id)
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "agents_queried" }, "the restarted ferryd never re-attached")
    }

    @Test("kill -9 ferryd during a rollback, restart: the rollback resumes, the VM stays on host-a")
    func killDuringRollback() async throws {
        // It cannot converge (1 ms budget, 8 MiB/s), so it is still in pre-copy when cancelled.
        let (cluster, vm) = try await MigrationDriverTests.cluster(dirtyRate: "50000")
        let id = try await MigrationDriverTests.submit(
            cluster, policy: "  max_downtime: 1ms\n  bandwidth: 8MiB/s\n  max_rounds: 1000")
        let inPrecopy = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            try await MigrationDriverTests.status(cluster, id)?.migration.phase == .precopy
        }
        #expect(inPrecopy, "never reached pre-copy\n\(cluster.logs())")

        // Freeze the source agent so the Abort cannot be carried out, cancel (ferryd commits the
        // rollback before sending), then kill ferryd with the rollback unfinished.
        let source = try #require(cluster.agents["host-a"])
        source.signal(SIGSTOP)
        let cancel = try await cluster.ferryctl(["migration", "cancel", id])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        let old = try #require(cluster.ferryd)
        old.signal(SIGKILL)
        #expect(await old.waitForExit(timeout: .seconds(10)) != nil, "ferryd survived SIGKILL")

        try await cluster.startFerryd(agentsListen: agentsListen)
        let stored = try await MigrationDriverTests.status(cluster, id)
        #expect(stored?.migration.phase == .precopy, "\(String(describing: stored))")
        source.signal(SIGCONT)

        var last: MigrationStatus?
        let ended = try await eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            last = try await MigrationDriverTests.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        #expect(ended, "never ended after the restart: \(String(describing: last))\n\(cluster.logs())")
        #expect(last?.migration.phase == .cancelled, "\(String(describing: last))\n\(cluster.logs())")
        #expect(vm.isRunning, "the source workload is gone")
        let onA = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-a" }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } != true
        }
        #expect(onA, "vm-1 is not on host-a alone\n\(cluster.logs())")

        let history = try await Self.events(cluster, id)
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "rollback_resumed" }, "the restarted ferryd did not resume the rollback")
        vm.signal(SIGTERM)
    }

    @Test(
        "kill -9 ferryd and the source agent mid-precopy, restart ferryd: past the window it ends failed, host-b lets go"
    )
    func killFerrydAndSourceAgent() async throws {
        let (cluster, vm) = try await MigrationDriverTests.cluster(
            dirtyRate: "200", ferrydArguments: ["--host-loss-window-ms", "2000"])
        let id = try await MigrationDriverTests.submit(
            cluster, policy: "  max_downtime: 300ms\n  bandwidth: 8MiB/s\n  max_rounds: 30")
        let midPrecopy = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            let s = try await MigrationDriverTests.status(cluster, id)
            return s?.migration.phase == .precopy && s?.progress?.updatedAt == nil
        }
        #expect(midPrecopy, "never caught mid pre-copy\n\(cluster.logs())")
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        let old = try #require(cluster.ferryd)
        old.signal(SIGKILL)
        let source = try #require(cluster.agents["host-a"])
        source.signal(SIGKILL)
        #expect(await old.waitForExit(timeout: .seconds(10)) != nil, "ferryd survived SIGKILL")
        #expect(await source.waitForExit(timeout: .seconds(10)) != nil, "the agent survived SIGKILL")

        try await cluster.startFerryd(agentsListen: agentsListen)
        var last: MigrationStatus?
        let ended = try await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            last = try await MigrationDriverTests.status(cluster, id)
            return last?.migration.phase.isTerminal == true
        }
        #expect(ended, "never ended: \(String(describing: last))\n\(cluster.logs())")
        // Nobody can confirm where the VM runs: failed, not rolled_back, and the reason says why.
        #expect(last?.migration.phase == .failed, "\(String(describing: last))\n\(cluster.logs())")
        #expect(
            last?.migration.reason.contains("source host host-a unreachable") == true,
            "\(String(describing: last?.migration.reason))")
        // The VM never left: its process on host-a runs; host-b released what it had received.
        #expect(vm.isRunning, "the source workload is gone")
        let released = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == "host-b" }?.vms.contains { $0.id == "vm-1" } == false
        }
        #expect(released, "host-b still lists vm-1\n\(cluster.logs())")

        let history = try await Self.events(cluster, id)
        Self.expectConsistent(history, final: try #require(last).migration)
        #expect(history.contains { $0.kind == "agents_queried" }, "the restarted ferryd never re-attached")
        #expect(history.contains { $0.attributes["decision"] == "host_unreachable" }, "\(history.map(\.kind))")
        vm.signal(SIGTERM)
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
