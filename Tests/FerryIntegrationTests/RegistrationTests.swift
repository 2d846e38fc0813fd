import FerryModel
import Foundation
import Testing

/// The foundation's promise, checked with real processes on loopback: agents register with
/// ferryd, which persists them; ferryctl lists them; liveness follows the agents; a ferryd restart
/// loses nothing and the agents come back on their own.
@Suite("Registration (ferryd + ferry-agent + ferryctl processes)", .serialized)
struct RegistrationTests {
    static let hostAConfig = """
        # host-a has one simulated device attached to vm-1
        [device sim0]
        backend = sim
        vendor_id = 0x1af4
        device_id = 0x1041
        driver = ferry-sim
        migration = stop_copy,p2p,pre_copy
        dma_logging = true
        migration_version = ferry-sim/1
        vm = vm-1
        stop_copy_bytes = 64MiB
        """

    @Test(.timeLimit(.minutes(3)))
    func agentsRegisterGoUnreachableAndSurviveRestart() async throws {
        let cluster = try TestCluster()
        try await cluster.startFerryd()
        try cluster.startAgent("host-a", config: Self.hostAConfig)
        try cluster.startAgent("host-b")

        let bothReady = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.map(\.id) == ["host-a", "host-b"] && hosts.allSatisfy { $0.status == .ready }
        }
        #expect(bothReady, "both agents ready\n\(cluster.logs())")

        // The inventory went through: the configured device with its compatibility descriptor.
        let hostA = try #require(try await cluster.hosts()?.first { $0.id == "host-a" })
        let device = try #require(hostA.devices.first, "host-a's device\n\(cluster.logs())")
        #expect(device.id == "sim0")
        #expect(device.backend == .sim)
        #expect(device.vendorID == 0x1af4 && device.deviceID == 0x1041)
        #expect(device.migrationCapabilities == [.stopCopy, .p2p, .preCopy])
        #expect(device.migrationVersion == "ferry-sim/1")
        #expect(device.stopCopyBytes >= 64 << 20, "the device's own MIG_DATA_SIZE: its state plus stream framing")
        #expect(hostA.cpuCount >= 1 && hostA.memoryBytes > 0)
        #expect(hostA.dataAddress.hasPrefix("127.0.0.1:") && !hostA.dataAddress.hasSuffix(":0"))

        // Kill host-b's agent: host-b becomes unreachable, host-a stays ready.
        cluster.agents["host-b"]?.signal(SIGKILL)
        let bUnreachable = try await eventually(timeout: .seconds(20)) {
            try await cluster.status(of: "host-b") == .unreachable
        }
        #expect(bUnreachable, "host-b unreachable after its agent died\n\(cluster.logs())")
        #expect(try await cluster.status(of: "host-a") == .ready)

        // Restart ferryd on the same data dir and agent port: hosts are still known at once...
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        cluster.ferryd?.signal(SIGTERM)
        let exit = await cluster.ferryd?.waitForExit(timeout: .seconds(20))
        #expect(exit == 0, "ferryd exits 0 on SIGTERM\n\(cluster.logs())")
        try await cluster.startFerryd(agentsListen: agentsListen)
        let known = try await cluster.hosts()?.map(\.id)
        #expect(known == ["host-a", "host-b"], "hosts persisted across restart\n\(cluster.logs())")

        // ...host-a's agent reconnects by itself, and a restarted host-b agent returns too.
        try cluster.startAgent("host-b")
        let backReady = try await eventually(timeout: .seconds(30)) {
            let hosts = try await cluster.hosts() ?? []
            return hosts.count == 2 && hosts.allSatisfy { $0.status == .ready }
        }
        #expect(backReady, "agents reconnected after ferryd restart\n\(cluster.logs())")
        let device2 = try await cluster.hosts()?.first { $0.id == "host-a" }?.devices.first
        #expect(device2?.id == "sim0", "inventory survives the restart")
    }

    @Test(.timeLimit(.minutes(2)))
    func malformedConnectionIsClosedAndOthersKeepBeingServed() async throws {
        let cluster = try TestCluster()
        try await cluster.startFerryd()
        try cluster.startAgent("host-a")
        let ready = try await eventually(timeout: .seconds(30)) {
            try await cluster.status(of: "host-a") == .ready
        }
        #expect(ready, "host-a ready\n\(cluster.logs())")

        // A peer that speaks garbage is disconnected by ferryd...
        let agentsListen = try #require(cluster.endpoints?.agentsListen)
        let closed = try RawPeer.sendAndAwaitClose(
            to: agentsListen, bytes: Array("GET / HTTP/1.1\r\n\r\nxxxxxxxx".utf8))
        #expect(closed, "ferryd closed the garbage connection\n\(cluster.logs())")
        // ...and so is one that announces a frame over the size limits.
        var oversized: [UInt8] = [0x46, 0x45, 0x52, 0x59, 1, 1, 0, 0]  // 'FERY', v1, HELLO, flags 0
        oversized += [0x00, 0x00, 0x00, 0x40]  // header_len 1 GiB
        oversized += [0, 0, 0, 0]
        #expect(try RawPeer.sendAndAwaitClose(to: agentsListen, bytes: oversized))

        // The real agent is still served: it keeps heartbeating and stays ready well past the
        // miss limit (3 x 200 ms).
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await cluster.status(of: "host-a") == .ready, "\(cluster.logs())")
        #expect(cluster.ferryd?.isRunning == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func ferryctlReportsUnreachableFerryd() async throws {
        let port = try RawPeer.unusedPort()
        let out = try await runCommand(
            try Binaries.swiftBinary("ferryctl"),
            ["hosts", "--server", "http://127.0.0.1:\(port)"])
        #expect(out.status == 1)
        #expect(out.stderr.hasPrefix("ferryctl: cannot reach ferryd at http://127.0.0.1:\(port)"), "\(out.stderr)")
        #expect(out.stdout.isEmpty)
    }
}
