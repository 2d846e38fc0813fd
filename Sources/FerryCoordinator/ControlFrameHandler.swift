import FerryWire
import NIOCore

/// First handler of an agent connection's pipeline, on the NIO event loop: cuts the byte stream
/// into frames, answers Heartbeats in place while the connection's `HeartbeatGate` is armed (echo
/// and liveness record, exactly what the session would do), and passes every other frame on to
/// `AgentConnection` unchanged, consecutive frames in one buffer. While a run passed on is not yet
/// consumed, heartbeats are passed on too, so replies keep the order of the frames.
///
/// Nothing else is decided here. A heartbeat that does not decode, or arrives while the gate is
/// not armed, goes on like any frame and the session answers it as before. Once the framing is
/// broken the handler stops looking and passes the rest through, so the session's `FrameParser`
/// sees the same bytes and refuses them with the same error.
final class ControlFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let gate: HeartbeatGate
    private let clock: any CoordinatorClock
    /// Bytes of a frame that has not fully arrived yet.
    private var partial: ByteBuffer?
    /// The framing is broken: pass everything through.
    private var passingThrough = false
    private var unflushedReplies = false

    init(gate: HeartbeatGate, clock: any CoordinatorClock) {
        self.gate = gate
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !passingThrough else {
            gate.passedOn()
            context.fireChannelRead(data)
            return
        }
        var buffer = unwrapInboundIn(data)
        if var earlier = partial {
            earlier.writeBuffer(&buffer)
            buffer = earlier
            partial = nil
        }
        // `buffer`'s reader index stays put (slices are taken at or after it); `cursor` walks the
        // frames, and those not answered here are passed on in one run: [runStart, cursor).
        var cursor = buffer.readerIndex
        var runStart = cursor
        while buffer.writerIndex - cursor >= FrameLimits.fixedHeaderSize {
            let header: FrameHeader
            do {
                header = try FrameHeader.parse(
                    ArraySlice(buffer.getBytes(at: cursor, length: FrameLimits.fixedHeaderSize) ?? []))
            } catch {
                passingThrough = true
                break
            }
            guard buffer.writerIndex - cursor >= header.frameLength else { break }
            let frameStart = cursor
            cursor += header.frameLength
            // Behind frames not yet passed on, a heartbeat joins their run (order is kept).
            guard header.type == .heartbeat, runStart == frameStart,
                let reply = answerHeartbeat(buffer, from: frameStart + FrameLimits.fixedHeaderSize, header: header)
            else { continue }
            runStart = cursor
            context.write(wrapOutboundOut(reply), promise: nil)
            unflushedReplies = true
        }
        if passingThrough {
            pass(buffer, from: runStart, to: buffer.writerIndex, context: context)
        } else {
            pass(buffer, from: runStart, to: cursor, context: context)
            if cursor < buffer.writerIndex {
                partial = buffer.getSlice(at: cursor, length: buffer.writerIndex - cursor)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushedReplies {
            unflushedReplies = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The echo to send if this heartbeat frame was recorded here; nil sends it the session's way.
    private func answerHeartbeat(_ buffer: ByteBuffer, from messageStart: Int, header: FrameHeader) -> ByteBuffer? {
        guard gate.isArmed, header.payloadLength == 0,
            let bytes = buffer.getBytes(at: messageStart, length: Int(header.headerLength)),
            case .heartbeat(let heartbeat)? = try? WireMessage(frame: Frame(type: .heartbeat, message: bytes)),
            let echo = try? WireMessage.heartbeat(heartbeat).encoded()
        else { return nil }
        guard
            gate.recordHeartbeatIfArmed(
                freeMemoryBytes: heartbeat.freeMemoryBytes, now: clock.monotonicNow(), wallNow: clock.wallNow())
        else { return nil }
        return ByteBuffer(bytes: echo)
    }

    private func pass(_ buffer: ByteBuffer, from start: Int, to end: Int, context: ChannelHandlerContext) {
        guard end > start, let run = buffer.getSlice(at: start, length: end - start) else { return }
        gate.passedOn()
        context.fireChannelRead(wrapInboundOut(run))
    }
}
