import FerryModel
import FerryStore
import FerryWire
import Logging
import NIOCore
import Testing

@testable import FerryCoordinator

/// The NIO glue over real loopback sockets.
@Suite struct AgentLinkServerTests {
    /// Starts a link server on 127.0.0.1:0 and runs `body` with its address; stops it afterwards.
    static func withServer(
        store: some HostStore, settings: LinkSettings = LinkSettings(coordinatorID: "ferryd-test"),
        _ body: @escaping @Sendable (String, HostRegistry) async throws -> Void
    ) async throws {
        let clock = SystemCoordinatorClock()
        let registry = HostRegistry(store: store, clock: clock, settings: settings, logger: Logger(label: "test"))
        let server = try await AgentLinkServer.bind(
            ListenAddress(host: "127.0.0.1", port: 0), registry: registry, settings: settings, clock: clock,
            logger: Logger(label: "test"))
        let serving = Task { await server.run() }
        defer { serving.cancel() }
        try await withTimeout(.seconds(20), "link server test") { try await body(server.localAddress, registry) }
        serving.cancel()
        await serving.value
    }

    @Test("the server binds a kernel-chosen port and reports it")
    func boundPort() async throws {
        try await Self.withServer(store: InMemoryHostStore()) { address, _ in
            #expect(address.hasPrefix("127.0.0.1:"))
            #expect(address != "127.0.0.1:0")
        }
    }

    @Test("hello gets welcome; inventory is stored; heartbeats are echoed unchanged")
    func helloWelcome() async throws {
        let store = try SQLiteStore.inMemory()
        try await Self.withServer(store: store) { address, _ in
            try await TestAgentClient.connect(to: address) { reader, writer in
                try await writer.send(Agent.hello("host-a"))
                guard case .welcome(let welcome) = try await reader.next() else {
                    Issue.record("expected welcome")
                    return
                }
                #expect(welcome.protocolVersion == 1)
                #expect(welcome.coordinatorID == "ferryd-test")
                #expect(welcome.heartbeatIntervalMs == 1000 && welcome.heartbeatMissLimit == 3)
                #expect(welcome.serverTimeUnixNs > 1_700_000_000_000_000_000)
                try await writer.send(Agent.inventory("host-a"))
                try await writer.send(Agent.heartbeat(1))
                #expect(try await reader.next() == Agent.heartbeat(1))
                let host = try #require(try store.host(id: "host-a"))
                #expect(host.status == .ready)
                #expect(host.devices.map(\.id) == ["sim0"])
                #expect(host.kernelRelease == "6.18.44")
            }
        }
    }

    @Test("a malformed frame closes only its connection, after an Error; another agent stays served")
    func malformedFrameIsolated() async throws {
        let store = InMemoryHostStore()
        try await Self.withServer(store: store) { address, _ in
            try await TestAgentClient.connect(to: address) { good, goodWriter in
                try await goodWriter.send(Agent.hello("host-a"))
                guard case .welcome = try await good.next() else {
                    Issue.record("expected welcome")
                    return
                }
                try await TestAgentClient.connect(to: address) { bad, badWriter in
                    try await badWriter.sendRaw(Array("GARBAGE-GARBAGE-GARBAGE".utf8))
                    guard case .error(let error) = try await bad.next() else {
                        Issue.record("expected an error frame")
                        return
                    }
                    #expect(error.code == .badFrame)
                    #expect(error.message.contains("magic"))
                    #expect(try await bad.next() == nil)  // closed
                }
                // A frame over the size limit, on a registered connection this time.
                try await TestAgentClient.connect(to: address) { big, bigWriter in
                    try await bigWriter.send(Agent.hello("host-b"))
                    guard case .welcome = try await big.next() else { return }
                    var header = try FrameHeader(type: .inventory, headerLength: 0, payloadLength: 0).encoded()
                    header.replaceSubrange(8..<12, with: [0, 0, 0x20, 0])  // 2 MiB
                    try await bigWriter.sendRaw(header)
                    guard case .error(let error) = try await big.next() else {
                        Issue.record("expected an error frame")
                        return
                    }
                    #expect(error.code == .badFrame)
                    #expect(try await big.next() == nil)
                }
                try await eventually("host-b unreachable") { try store.host(id: "host-b")?.status == .unreachable }
                try await goodWriter.send(Agent.heartbeat(7))
                #expect(try await good.next() == Agent.heartbeat(7))
                #expect(try store.host(id: "host-a")?.status == .ready)
            }
        }
    }

    @Test("a second agent with the same host id and another boot id gets DUPLICATE_HOST")
    func duplicateHost() async throws {
        try await Self.withServer(store: InMemoryHostStore()) { address, _ in
            try await TestAgentClient.connect(to: address) { first, firstWriter in
                try await firstWriter.send(Agent.hello("host-a", boot: "boot-1"))
                guard case .welcome = try await first.next() else { return }
                try await TestAgentClient.connect(to: address) { second, secondWriter in
                    try await secondWriter.send(Agent.hello("host-a", boot: "boot-2"))
                    guard case .error(let error) = try await second.next() else {
                        Issue.record("expected an error frame")
                        return
                    }
                    #expect(error.code == .duplicateHost)
                    #expect(try await second.next() == nil)
                }
                try await firstWriter.send(Agent.heartbeat(1))
                #expect(try await first.next() == Agent.heartbeat(1))
            }
        }
    }

    @Test("the same boot id reconnecting replaces the old connection, which is closed")
    func replacement() async throws {
        let store = InMemoryHostStore()
        try await Self.withServer(store: store) { address, registry in
            try await TestAgentClient.connect(to: address) { old, oldWriter in
                try await oldWriter.send(Agent.hello("host-a"))
                guard case .welcome = try await old.next() else { return }
                try await TestAgentClient.connect(to: address) { new, newWriter in
                    try await newWriter.send(Agent.hello("host-a"))
                    guard case .welcome = try await new.next() else {
                        Issue.record("expected welcome on the new connection")
                        return
                    }
                    #expect(try await old.next() == nil)  // the old one was closed by ferryd
                    try await newWriter.send(Agent.heartbeat(2))
                    #expect(try await new.next() == Agent.heartbeat(2))
                    #expect(try store.host(id: "host-a")?.status == .ready)
                }
            }
            try await eventually("host-a unreachable after its last connection closed") {
                try store.host(id: "host-a")?.status == .unreachable
            }
            #expect(await registry.liveHostIDs() == [])
        }
    }

    @Test("no hello within the timeout: TIMEOUT error and close")
    func helloTimeout() async throws {
        let settings = LinkSettings(coordinatorID: "t", helloTimeout: .milliseconds(200))
        try await Self.withServer(store: InMemoryHostStore(), settings: settings) { address, _ in
            try await TestAgentClient.connect(to: address) { reader, _ in
                guard case .error(let error) = try await reader.next() else {
                    Issue.record("expected an error frame")
                    return
                }
                #expect(error.code == .timeout)
                #expect(try await reader.next() == nil)
            }
        }
    }

    @Test("a silent agent is marked unreachable and disconnected by the sweep")
    func silentAgent() async throws {
        let store = InMemoryHostStore()
        let settings = LinkSettings(coordinatorID: "t", heartbeatIntervalMs: 50, heartbeatMissLimit: 2)
        try await Self.withServer(store: store, settings: settings) { address, registry in
            let sweeping = Task { await registry.runSweeps() }
            defer { sweeping.cancel() }
            try await TestAgentClient.connect(to: address) { reader, writer in
                try await writer.send(Agent.hello("host-a"))
                guard case .welcome = try await reader.next() else { return }
                #expect(try await reader.next() == nil)  // dropped after ~100 ms of silence
                #expect(try store.host(id: "host-a")?.status == .unreachable)
            }
        }
    }

    @Test("many frames in one write are all answered, in order")
    func burst() async throws {
        try await Self.withServer(store: InMemoryHostStore()) { address, _ in
            try await TestAgentClient.connect(to: address) { reader, writer in
                var bytes = try Agent.hello("host-a").encoded()
                for seq in 1...500 { bytes += try Agent.heartbeat(UInt64(seq)).encoded() }
                try await writer.sendRaw(bytes)
                guard case .welcome = try await reader.next() else {
                    Issue.record("expected welcome")
                    return
                }
                for seq in 1...500 {
                    let echo = try await reader.next()
                    guard echo == Agent.heartbeat(UInt64(seq)) else {
                        Issue.record("echo \(seq): got \(String(describing: echo))")
                        return
                    }
                }
            }
        }
    }
}
