import FerryModel
import Foundation
import Testing

/// The setup the host-loss, restart and mid-round tests share: ferryd, host-a and host-b with real
/// agents, vm-1 (a 64 MiB workload) on host-a, a submitted plan moving it to host-b, and the
/// migration caught in pre-copy before anything is done to it.
struct PrecopyMigration {
    /// 64 MiB at 8 MiB/s: round 0 (all of RAM) takes about 8 s; at 200 pages/s later rounds converge.
    static let converging = "  max_downtime: 300ms\n  bandwidth: 8MiB/s\n  max_rounds: 30"
    /// A 1 ms budget at 8 MiB/s cannot be met: it stays in pre-copy until cancelled or aborted.
    static let neverConverging = "  max_downtime: 1ms\n  bandwidth: 8MiB/s\n  max_rounds: 1000"

    let cluster: TestCluster
    let vm: ManagedProcess
    let id: String

    /// Round 0 (the first pass over all of RAM) still on the wire: in pre-copy and no round has
    /// ended. A mid-round report shows round 0 and the bytes so far but no dirty figures, which
    /// only a round's end measures (the first one with 200 pages/s dirtied leaves some).
    static func inRoundZero(_ s: MigrationStatus) -> Bool {
        guard s.migration.phase == .precopy else { return false }
        guard let p = s.progress else { return true }
        return p.round == 0 && p.dirtyBytesRemaining == 0 && p.dirtyRateBytesPerSec == 0
    }

    static func inPrecopy(_ s: MigrationStatus) -> Bool { s.migration.phase == .precopy }

    /// Starts everything, submits the plan and waits (polling, generous limit) until `caught`.
    static func start(
        dirtyRate: String = "200", policy: String = converging, ferrydArguments: [String] = [],
        caught: (MigrationStatus) -> Bool = inRoundZero
    ) async throws -> PrecopyMigration {
        let (cluster, vm) = try await MigrationDriverTests.cluster(
            dirtyRate: dirtyRate, ferrydArguments: ferrydArguments)
        let id = try await MigrationDriverTests.submit(cluster, policy: policy)
        let fixture = PrecopyMigration(cluster: cluster, vm: vm, id: id)
        var last: MigrationStatus?
        let reached = try await eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            last = try await fixture.status()
            return last.map(caught) ?? false
        }
        try #require(reached, "never caught in pre-copy: \(String(describing: last))\n\(cluster.logs())")
        return fixture
    }

    func status() async throws -> MigrationStatus? { try await MigrationDriverTests.status(cluster, id) }

    func events() async throws -> [Event] { try await RestartRecoveryTests.events(cluster, id) }

    /// Polls until the migration has ended (generous limit); the last status read.
    func ended(timeout: Duration = .seconds(90)) async throws -> MigrationStatus? {
        var last: MigrationStatus?
        let done = try await eventually(timeout: timeout, every: .milliseconds(250)) {
            last = try await status()
            return last?.migration.phase.isTerminal == true
        }
        #expect(done, "never ended: \(String(describing: last))\n\(cluster.logs())")
        return last
    }

    /// Polls until `vm-1` is listed by `on` and not by `notOn`.
    func vmListed(on host: String, notOn other: String) async throws -> Bool {
        try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.first { $0.id == host }?.vms.contains { $0.id == "vm-1" } == true
                && hosts.first { $0.id == other }?.vms.contains { $0.id == "vm-1" } != true
        }
    }

    /// kill -9 ferryd and start it again on the same data directory and agents port.
    func restartFerryd(alsoKilling agents: [String] = []) async throws {
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        let old = try #require(cluster.ferryd)
        old.signal(SIGKILL)
        for host in agents {
            let agent = try #require(cluster.agents[host])
            agent.signal(SIGKILL)
            #expect(await agent.waitForExit(timeout: .seconds(10)) != nil, "the agent on \(host) survived SIGKILL")
        }
        #expect(await old.waitForExit(timeout: .seconds(10)) != nil, "ferryd survived SIGKILL")
        try await cluster.startFerryd(agentsListen: agentsListen)
    }
}
