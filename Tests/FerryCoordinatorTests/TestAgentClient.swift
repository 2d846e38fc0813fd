import FerryWire
import NIOCore
import NIOPosix

struct TimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// Runs `body`, failing if it takes longer than `limit` (a bound for waiting, not a measurement).
func withTimeout<T: Sendable>(
    _ limit: Duration = .seconds(10), _ what: String = "test", _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Polls `condition` until true (bounded).
func eventually(_ what: String, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    try await withTimeout(.seconds(10), what) {
        while try await !condition() { try await Task.sleep(for: .milliseconds(20)) }
    }
}

/// A fake agent speaking the control link over a real TCP connection.
enum TestAgentClient {
    /// Connects to `address` (`IP:PORT`) and runs `body` with a frame reader and a writer; the
    /// connection closes when `body` returns.
    static func connect<T: Sendable>(
        to address: String,
        _ body: (inout FrameReader, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> T
    ) async throws -> T {
        let parts = address.split(separator: ":")
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: String(parts[0]), port: Int(parts[1])!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var reader = FrameReader(iterator: inbound.makeAsyncIterator())
            return try await body(&reader, outbound)
        }
    }
}

extension NIOAsyncChannelOutboundWriter<ByteBuffer> {
    func send(_ message: WireMessage) async throws { try await write(ByteBuffer(bytes: try message.encoded())) }
    func sendRaw(_ bytes: [UInt8]) async throws { try await write(ByteBuffer(bytes: bytes)) }
}

/// Reads whole frames from a connection.
struct FrameReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var parser = FrameParser()

    /// The next message, or nil when the peer closed the connection.
    mutating func next() async throws -> WireMessage? {
        while true {
            if let frame = try parser.next() { return try WireMessage(frame: frame) }
            do {
                guard let buffer = try await iterator.next() else { return nil }
                parser.feed(buffer.readableBytesView)
            } catch let error as IOError where error.errnoCode == ECONNRESET {
                return nil
            }
        }
    }
}

enum Agent {
    static func hello(_ host: String, boot: String = "boot-1") -> WireMessage {
        var hello = Ferry_V1_Hello()
        hello.protocolVersion = 1
        hello.minProtocolVersion = 1
        hello.hostID = host
        hello.agentVersion = "0.1.0"
        hello.bootID = boot
        return .hello(hello)
    }

    static func heartbeat(_ seq: UInt64) -> WireMessage {
        var hb = Ferry_V1_Heartbeat()
        hb.seq = seq
        hb.freeMemoryBytes = 123_456
        return .heartbeat(hb)
    }

    static func inventory(_ host: String) -> WireMessage {
        var inventory = Ferry_V1_Inventory()
        inventory.hostID = host
        inventory.cpuCount = 2
        inventory.memoryBytes = 1 << 32
        inventory.agentVersion = "0.1.0"
        inventory.kernelRelease = "6.18.44"
        inventory.dataAddress = "127.0.0.1:7101"
        var device = Ferry_V1_Device()
        device.id = "sim0"
        device.backend = .sim
        device.migrationFlags = 7
        device.state = .running
        inventory.devices = [device]
        return .inventory(inventory)
    }
}
