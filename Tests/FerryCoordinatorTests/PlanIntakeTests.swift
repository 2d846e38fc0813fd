import FerryCoordinator
import FerryModel
import Foundation
import Testing

/// A small cluster to validate plans against.
enum PlanCluster {
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000)
    static let gib: UInt64 = 1 << 30

    static func gpu(
        _ id: String, vm: String = "", version: String = "sim-1",
        caps: MigrationCapabilities = [.stopCopy, .p2p, .preCopy]
    )
        -> Device
    {
        Device(
            id: id, backend: .sim, vendorID: 0x10de, deviceID: 0x2330, driver: "ferry-sim",
            migrationCapabilities: caps, dmaLogging: true, savingLayoutHandshake: false, migrationVersion: version,
            vmID: vm, state: vm.isEmpty ? .stop : .running, stopCopyBytes: 64 << 20)
    }

    static func vm(_ id: String, gib ram: UInt64, devices: [String] = []) -> VM {
        VM(id: id, ramBytes: ram * gib, vcpus: 2, deviceIDs: devices, state: .running, dirtyRateBytesPerSec: 0, pid: 1)
    }

    static func host(
        _ id: String, status: HostStatus = .ready, freeGiB: UInt64, devices: [Device] = [], vms: [VM] = []
    ) -> HypervisorHost {
        HypervisorHost(
            id: id, status: status, agentVersion: "0.1.0", protocolVersion: 1, controlAddress: "127.0.0.1:1",
            dataAddress: "127.0.0.1:2", kernelRelease: "6.8", cpuCount: 8, memoryBytes: 64 * gib,
            freeMemoryBytes: freeGiB * gib, devices: devices, vms: vms, firstSeen: t0, lastSeen: t0,
            statusChangedAt: t0)
    }

    static let hosts: [HypervisorHost] = [
        host(
            "host-a", freeGiB: 10,
            devices: [
                gpu("a-gpu0", vm: "vm-1"), gpu("a-gpu1", vm: "vm-2"), gpu("a-gpu2", vm: "vm-2", caps: [.stopCopy]),
            ],
            vms: [
                vm("vm-1", gib: 4, devices: ["a-gpu0"]), vm("vm-2", gib: 2, devices: ["a-gpu1", "a-gpu2"]),
                vm("vm-3", gib: 1),
            ]),
        host("host-b", freeGiB: 5, devices: [gpu("b-gpu0")]),
        host("host-c", freeGiB: 32, devices: [gpu("c-gpu0", version: "sim-2")]),
        host("host-d", status: .unreachable, freeGiB: 32),
        host("host-e", freeGiB: 2, vms: [vm("vm-5", gib: 1), vm("vm-6", gib: 1)]),
        host("host-f", freeGiB: 8, devices: [gpu("f-gpu0")]),
        host("host-g", freeGiB: 32),
    ]

    static func check(_ yaml: String, active: [Migration] = []) -> Result<AcceptedPlan, PlanInvalid> {
        PlanIntake.check(yaml, file: "plan.yaml", hosts: hosts, activeMigrations: active)
    }

    static func problems(_ yaml: String, active: [Migration] = []) -> [String] {
        switch check(yaml, active: active) {
        case .success: []
        case .failure(let invalid): invalid.problems.map(\.description)
        }
    }
}

@Suite("Plan intake: parsing and validation")
struct PlanIntakeTests {
    @Test func goodPlanResolvesWithPolicyAndWaves() throws {
        let accepted = try PlanCluster.check(
            """
            name: rack-12
            policy:
              max_downtime: 500ms
              bandwidth: 1GiB/s
              completion_timeout_per_gib: 2m
              no_progress_window: 90s
              max_rounds: 12
              auto_converge: true
              channels: 4
              priority: 5
            migrations:
              - vm: vm-1
                source: host-a
                destination: host-b
              - vm: vm-3
                source: host-a
                destination: host-c
                wave: 2
                priority: 9
            """
        ).get()
        #expect(accepted.document.name == "rack-12")
        #expect(
            accepted.document.policy
                == MigrationPolicy(
                    maxDowntimeMs: 500, bandwidthBytesPerSec: 1 << 30, completionSecondsPerGiB: 120,
                    noProgressWindowSeconds: 90, maxRounds: 12, autoConverge: true, channels: 4, priority: 5))
        #expect(
            accepted.migrations == [
                PlannedMigration(
                    vmID: "vm-1", sourceHostID: "host-a", destinationHostID: "host-b", wave: 1, priority: 5,
                    ramBytes: 4 << 30, line: 12),
                PlannedMigration(
                    vmID: "vm-3", sourceHostID: "host-a", destinationHostID: "host-c", wave: 2, priority: 9,
                    ramBytes: 1 << 30, line: 15),
            ])
    }

    @Test func jsonIsAcceptedWithLines() throws {
        let accepted = try PlanCluster.check(
            """
            {"name": "j",
             "migrations": [
               {"vm": "vm-3", "source": "host-a", "destination": "host-b"}]}
            """
        ).get()
        #expect(accepted.document.policy == .defaults)
        #expect(accepted.migrations.map(\.line) == [3])
    }

    @Test func evacuationPicksTheCandidateWithMostFreeMemory() throws {
        // host-e's two 1 GiB VMs: host-f has 8 GiB free, host-b 5 GiB; both go to host-f.
        let accepted = try PlanCluster.check(
            """
            name: evac
            migrations:
              - evacuate: host-e
                candidates: [host-b, host-f]
            """
        ).get()
        #expect(accepted.migrations.map(\.vmID) == ["vm-5", "vm-6"])
        #expect(accepted.migrations.map(\.destinationHostID) == ["host-f", "host-f"])
    }

    /// The corpus: each bad plan and the exact problem(s) it must produce, with line numbers.
    static let corpus: [(String, String, [String])] = [
        (
            "unknown key with a hint",
            "name: x\npolicy:\n  max_downtme: 300ms\nmigrations:\n  - {vm: vm-3, source: host-a, destination: host-b}\n",
            [
                "plan.yaml:3: policy.max_downtme: unknown key (did you mean 'max_downtime'?); known: max_downtime, bandwidth, completion_timeout_per_gib, no_progress_window, max_rounds, auto_converge, channels, priority"
            ]
        ),
        (
            "bad unit",
            "name: x\npolicy:\n  max_downtime: 300\n  bandwidth: 1GiB\nmigrations:\n  - {vm: vm-3, source: host-a, destination: host-b}\n",
            [
                "plan.yaml:3: policy.max_downtime: '300' has no unit (expected ms, s, m or h)",
                "plan.yaml:4: policy.bandwidth: '1GiB' has no unit (expected a size per second, e.g. 1GiB/s)",
            ]
        ),
        (
            "missing fields",
            "migrations:\n  - vm: vm-3\n    source: host-a\n",
            [
                "plan.yaml:1: name: missing",
                "plan.yaml:2: migrations[0].destination: missing",
            ]
        ),
        (
            "unknown VM",
            "name: x\nmigrations:\n  - vm: vm-404\n    source: host-a\n    destination: host-b\n",
            ["plan.yaml:3: migrations[0].vm: unknown VM 'vm-404': no host reports it"]
        ),
        (
            "VM not on that source",
            "name: x\nmigrations:\n  - vm: vm-5\n    source: host-a\n    destination: host-b\n",
            ["plan.yaml:4: migrations[0].source: VM 'vm-5' is on host 'host-e', not 'host-a'"]
        ),
        (
            "same source and destination",
            "name: x\nmigrations:\n  - vm: vm-3\n    source: host-a\n    destination: host-a\n",
            ["plan.yaml:5: migrations[0].destination: same host as the source ('host-a')"]
        ),
        (
            "duplicate VM",
            "name: x\nmigrations:\n  - {vm: vm-3, source: host-a, destination: host-b}\n  - {vm: vm-3, source: host-a, destination: host-c}\n",
            ["plan.yaml:4: migrations[1].vm: VM 'vm-3' appears twice in the plan (first at line 3)"]
        ),
        (
            "destination lacks memory",
            "name: x\nmigrations:\n  - {vm: vm-5, source: host-e, destination: host-b}\n  - vm: vm-1\n    source: host-a\n    destination: host-b\n  - {vm: vm-6, source: host-e, destination: host-b}\n",
            [
                "plan.yaml:7: migrations[2].destination: host 'host-b' lacks memory: VM 'vm-6' needs 1.0 GiB, 0 B free"
            ]
        ),
        (
            "device without compatible peer",
            "name: x\nmigrations:\n  - vm: vm-1\n    source: host-a\n    destination: host-c\n",
            [
                "plan.yaml:5: migrations[0].destination: no compatible peer on host 'host-c' for device 'a-gpu0' (10de:2330 ferry-sim 'sim-1'): 'c-gpu0' has migration version 'sim-2', not 'sim-1'"
            ]
        ),
        (
            "no device at all on the destination",
            "name: x\nmigrations:\n  - vm: vm-1\n    source: host-a\n    destination: host-g\n",
            [
                "plan.yaml:5: migrations[0].destination: no free device on host 'host-g' matches device 'a-gpu0' (10de:2330 ferry-sim 'sim-1')"
            ]
        ),
        (
            "multi-device VM without P2P",
            "name: x\nmigrations:\n  - vm: vm-2\n    source: host-a\n    destination: host-c\n",
            [
                "plan.yaml:3: migrations[0].vm: VM 'vm-2' has 2 devices and device 'a-gpu2' lacks P2P, which multi-device migration needs"
            ]
        ),
        (
            "unreachable destination",
            "name: x\nmigrations:\n  - vm: vm-3\n    source: host-a\n    destination: host-d\n",
            ["plan.yaml:5: migrations[0].destination: host 'host-d' is unreachable"]
        ),
        (
            "unknown host",
            "name: x\nmigrations:\n  - vm: vm-3\n    source: host-a\n    destination: host-z\n",
            ["plan.yaml:5: migrations[0].destination: unknown host 'host-z'"]
        ),
        (
            "evacuate mixed with vm",
            "name: x\nmigrations:\n  - evacuate: host-e\n    vm: vm-5\n    candidates: [host-b]\n",
            ["plan.yaml:4: migrations[0].vm: not allowed with evacuate (evacuate moves every VM of a host)"]
        ),
        (
            "evacuate with no possible candidate",
            "name: x\nmigrations:\n  - evacuate: host-a\n    candidates: [host-e]\n",
            [
                "plan.yaml:3: migrations[0].evacuate: VM 'vm-2' has 2 devices and device 'a-gpu2' lacks P2P, which multi-device migration needs",
                "plan.yaml:4: migrations[0].candidates: no candidate can take VM 'vm-1' (host-e: host 'host-e' lacks memory: VM 'vm-1' needs 4.0 GiB, 2.0 GiB free; no free device on host 'host-e' matches device 'a-gpu0' (10de:2330 ferry-sim 'sim-1'))",
            ]
        ),
        (
            "bad types and ranges",
            "name: x\npolicy:\n  channels: 500\n  auto_converge: maybe\nmigrations:\n  - {vm: vm-3, source: host-a, destination: host-b, wave: 0}\n",
            [
                "plan.yaml:3: policy.channels: must be between 1 and 128, not 500",
                "plan.yaml:4: policy.auto_converge: must be true or false",
                "plan.yaml:6: migrations[0].wave: must be between 1 and 1000, not 0",
            ]
        ),
        (
            "not YAML",
            "name: x\nmigrations: [\n",
            ["plan.yaml:3: (file): not valid YAML: did not find expected node content"]
        ),
        (
            "empty migrations",
            "name: x\nmigrations: []\n",
            ["plan.yaml:2: migrations: is empty"]
        ),
    ]

    @Test("bad plan", arguments: corpus)
    func badPlan(name: String, yaml: String, expected: [String]) {
        #expect(PlanCluster.problems(yaml) == expected, "\(name)")
    }

    @Test func alreadyMigratingVMIsRefused() {
        let active = Migration(
            id: "m-1", planID: "p-0", position: 0, vmID: "vm-3", sourceHostID: "host-a", destinationHostID: "host-f",
            wave: 1, priority: 0, ramBytes: 1 << 30, phase: .precopy)
        let problems = PlanCluster.problems(
            "name: x\nmigrations:\n  - {vm: vm-3, source: host-a, destination: host-b}\n", active: [active])
        #expect(
            problems == ["plan.yaml:3: migrations[0].vm: VM 'vm-3' is already migrating (migration m-1, phase precopy)"]
        )
    }

    @Test func everyProblemIsReportedAtOnceInLineOrder() {
        let problems = PlanCluster.problems(
            """
            name: many
            colour: blue
            migrations:
              - {vm: vm-404, source: host-a, destination: host-b}
              - {vm: vm-3, source: host-a, destination: host-a}
              - {vm: vm-1, source: host-a, destination: host-c}
            """)
        #expect(problems.count == 4)
        #expect(problems.map { $0.split(separator: ":")[1] } == ["2", "4", "5", "6"])
    }
}
