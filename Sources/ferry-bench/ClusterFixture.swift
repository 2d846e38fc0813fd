import FerryModel
import Foundation

/// A made-up cluster for the benchmarks: `hosts` ready hosts of 64 CPUs and 512 GiB, each running
/// `vmsPerHost` 4 GiB VMs, and plan texts that move VMs from one host to the next.
enum ClusterFixture {
    static let vmRAM: UInt64 = 4 << 30

    static func hostID(_ index: Int) -> String { "host-\(String(format: "%04d", index + 1))" }
    static func vmID(host: Int, vm: Int) -> String { "\(hostID(host))-vm\(vm + 1)" }

    static func hosts(count: Int, vmsPerHost: Int, now: Date) -> [HypervisorHost] {
        (0..<count).map { h in
            HypervisorHost(
                id: hostID(h), status: .ready, agentVersion: "0.1.0", protocolVersion: 1,
                controlAddress: "127.0.0.1:\(20000 + h)", dataAddress: "127.0.0.1:\(30000 + h)",
                kernelRelease: "6.1.0", cpuCount: 64, memoryBytes: 512 << 30, freeMemoryBytes: 448 << 30,
                devices: [],
                vms: (0..<vmsPerHost).map { v in
                    VM(
                        id: vmID(host: h, vm: v), ramBytes: vmRAM, vcpus: 4, deviceIDs: [], state: .running,
                        dirtyRateBytesPerSec: 50_000_000, pid: 1000 + v)
                }, firstSeen: now, lastSeen: now, statusChangedAt: now)
        }
    }

    /// A plan of `size` migrations: the VMs in host-major order, each to the next host (round robin),
    /// so every destination receives the same share. Needs size <= hosts * vmsPerHost.
    static func planYAML(name: String, size: Int, hosts: Int) -> String {
        var text = "name: \(name)\npolicy:\n  max_downtime: 300ms\n  bandwidth: 1GiB/s\n  channels: 4\nmigrations:\n"
        text.reserveCapacity(size * 80)
        for i in 0..<size {
            let host = i % hosts
            let vm = i / hosts
            text += "  - vm: \(vmID(host: host, vm: vm))\n    source: \(hostID(host))\n"
            text += "    destination: \(hostID((host + 1) % hosts))\n"
        }
        return text
    }
}
