import FerryWire
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FerryCoordinator

/// `ControlFrameHandler` on an `EmbeddedChannel`: heartbeats answered in place while the gate is
/// armed, every other byte passed on unchanged and in order.
@Suite struct HeartbeatFastPathTests {
    let clock = ManualClock()

    static func heartbeat(_ seq: UInt64, free: UInt64 = 1 << 30) -> WireMessage {
        var heartbeat = Ferry_V1_Heartbeat()
        heartbeat.seq = seq
        heartbeat.freeMemoryBytes = free
        heartbeat.sentAtUnixNs = 1_700_000_000_000_000_000
        return .heartbeat(heartbeat)
    }

    static func event(_ id: String) -> WireMessage {
        var event = Ferry_V1_Event()
        event.migrationID = id
        return .event(event)
    }

    static func bytes(_ message: WireMessage) throws -> [UInt8] { try message.encoded() }

    func channel(armed: Bool) throws -> (EmbeddedChannel, HeartbeatGate) {
        let gate = HeartbeatGate(now: .zero)
        if armed { gate.arm() }
        let channel = EmbeddedChannel(handler: ControlFrameHandler(gate: gate, clock: clock))
        return (channel, gate)
    }

    /// Every byte passed on, concatenated, and every frame written back.
    func drain(_ channel: EmbeddedChannel, _ gate: HeartbeatGate) throws -> (passed: [UInt8], replies: [[UInt8]]) {
        var passed: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) {
            passed += Array(buffer.readableBytesView)
            gate.consumed()  // as AgentConnection does once it handled a run
        }
        var replies: [[UInt8]] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            replies.append(Array(buffer.readableBytesView))
        }
        return (passed, replies)
    }

    @Test("not armed: a heartbeat is passed on to the session and not answered")
    func unarmedPassesOn() throws {
        let (channel, gate) = try channel(armed: false)
        let frame = try Self.bytes(Self.heartbeat(1))
        try channel.writeInbound(ByteBuffer(bytes: frame))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed == frame)
        #expect(replies.isEmpty)
        #expect(gate.takeHeartbeat() == nil)
    }

    @Test("armed: a heartbeat is echoed as the session echoes it, recorded, and not passed on")
    func armedAnswers() throws {
        let (channel, gate) = try channel(armed: true)
        clock.advance(by: .milliseconds(1500))
        try channel.writeInbound(ByteBuffer(bytes: try Self.bytes(Self.heartbeat(7, free: 99))))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed.isEmpty)
        #expect(replies == [try Self.bytes(Self.heartbeat(7, free: 99))])
        #expect(gate.lastReceived == .milliseconds(1500))
        #expect(gate.takeHeartbeat() == HostLiveness.Heartbeat(freeMemoryBytes: 99, at: clock.wallNow()))
        #expect(gate.takeHeartbeat() == nil)
    }

    @Test("mixed frames: passed on in order, byte for byte; a heartbeat behind them goes with them")
    func mixedFrames() throws {
        let (channel, gate) = try channel(armed: true)
        let a = try Self.bytes(Self.event("m-1"))
        let b = try Self.bytes(Self.event("m-2"))
        let c = try Self.bytes(Self.event("m-3"))
        let stream =
            try Self.bytes(Self.heartbeat(1)) + a + b + (try Self.bytes(Self.heartbeat(2))) + c
            + (try Self.bytes(Self.heartbeat(3)))
        try channel.writeInbound(ByteBuffer(bytes: stream))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed == a + b + (try Self.bytes(Self.heartbeat(2))) + c + (try Self.bytes(Self.heartbeat(3))))
        #expect(replies == [try Self.bytes(Self.heartbeat(1))])
        // The run consumed: the next heartbeat is answered in place.
        try channel.writeInbound(ByteBuffer(bytes: try Self.bytes(Self.heartbeat(4))))
        let (after, more) = try drain(channel, gate)
        #expect(after.isEmpty)
        #expect(more == [try Self.bytes(Self.heartbeat(4))])
    }

    @Test("frames split anywhere across reads: same bytes passed on, same answers")
    func splitAcrossReads() throws {
        let a = try Self.bytes(Self.event("m-1"))
        let stream = (try Self.bytes(Self.heartbeat(4))) + a + (try Self.bytes(Self.heartbeat(5))) + a
        for chunk in [1, 3, 16, 17, 40] {
            let (channel, gate) = try channel(armed: true)
            var passed: [UInt8] = []
            var replies: [[UInt8]] = []
            var start = 0
            while start < stream.count {
                let end = min(start + chunk, stream.count)
                try channel.writeInbound(ByteBuffer(bytes: stream[start..<end]))
                let got = try drain(channel, gate)
                passed += got.passed
                replies += got.replies
                start = end
            }
            // Each read's run is consumed before the next read: hb 5 is answered unless it
            // arrived in one read behind (part of) the frame before it.
            let five = try Self.bytes(Self.heartbeat(5))
            #expect(passed == a + a || passed == a + five + a, "chunk \(chunk)")
            #expect(replies.first == (try Self.bytes(Self.heartbeat(4))), "chunk \(chunk)")
            #expect(replies.count + (passed.count == 2 * a.count ? 0 : 1) == 2, "chunk \(chunk)")
        }
    }

    @Test("broken framing: from the bad header on everything is passed through, heartbeats too")
    func brokenFramingPassesThrough() throws {
        let (channel, gate) = try channel(armed: true)
        let good = try Self.bytes(Self.heartbeat(1))
        var bad = try Self.bytes(Self.heartbeat(2))
        bad[0] = 0  // magic broken
        let after = try Self.bytes(Self.heartbeat(3))
        try channel.writeInbound(ByteBuffer(bytes: good + bad))
        try channel.writeInbound(ByteBuffer(bytes: after))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed == bad + after)
        #expect(replies == [good])
    }

    @Test("a heartbeat behind frames the session has not consumed yet goes its way too, keeping order")
    func heldWhileRunsInFlight() throws {
        let (channel, gate) = try channel(armed: true)
        let inventory = try Self.bytes(Self.event("m-1"))
        let heartbeat = try Self.bytes(Self.heartbeat(1))
        try channel.writeInbound(ByteBuffer(bytes: inventory + heartbeat))
        // Both passed on: the heartbeat's run was cut by nothing answered, so one run.
        var passed: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { passed += Array(buffer.readableBytesView) }
        #expect(passed == inventory + heartbeat)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        // Not consumed yet: the next heartbeat is passed on as well.
        try channel.writeInbound(ByteBuffer(bytes: heartbeat))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == heartbeat)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        gate.consumed()
        gate.consumed()
        // All consumed: answered in place again.
        try channel.writeInbound(ByteBuffer(bytes: heartbeat))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == heartbeat)
    }

    @Test("a heartbeat frame whose message does not decode goes to the session, which refuses it")
    func undecodableHeartbeat() throws {
        let (channel, gate) = try channel(armed: true)
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF]
        let frame = try Frame(type: .heartbeat, message: garbage).encoded()
        try channel.writeInbound(ByteBuffer(bytes: frame))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed == frame)
        #expect(replies.isEmpty)
        #expect(gate.takeHeartbeat() == nil)
    }

    @Test("disarmed again (closed or evicted): heartbeats go the session's way")
    func disarmed() throws {
        let (channel, gate) = try channel(armed: true)
        gate.disarm()
        let frame = try Self.bytes(Self.heartbeat(1))
        try channel.writeInbound(ByteBuffer(bytes: frame))
        let (passed, replies) = try drain(channel, gate)
        #expect(passed == frame)
        #expect(replies.isEmpty)
    }
}
