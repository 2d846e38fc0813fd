import SwiftProtobuf

/// A frame with its meaning: one case per FrameType, with the decoded protobuf message and, for
/// the two bulk types, the raw payload.
public enum WireMessage: Sendable, Equatable {
    case hello(Ferry_V1_Hello)
    case welcome(Ferry_V1_Welcome)
    case error(Ferry_V1_Error)
    case heartbeat(Ferry_V1_Heartbeat)
    case inventory(Ferry_V1_Inventory)
    case command(Ferry_V1_Command)
    case commandResult(Ferry_V1_CommandResult)
    case progress(Ferry_V1_Progress)
    case event(Ferry_V1_Event)
    case streamHello(Ferry_V1_StreamHello)
    case streamWelcome(Ferry_V1_StreamWelcome)
    case pageBatch(Ferry_V1_PageBatch, payload: [UInt8])
    case deviceChunk(Ferry_V1_DeviceChunk, payload: [UInt8])
    case endOfRound(Ferry_V1_EndOfRound)
    case roundAck(Ferry_V1_RoundAck)
    case resumeConfirm(Ferry_V1_ResumeConfirm)
    case vcpuState(Ferry_V1_VcpuState)

    public var frameType: Ferry_V1_FrameType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .error: .error
        case .heartbeat: .heartbeat
        case .inventory: .inventory
        case .command: .command
        case .commandResult: .commandResult
        case .progress: .progress
        case .event: .event
        case .streamHello: .streamHello
        case .streamWelcome: .streamWelcome
        case .pageBatch: .pageBatch
        case .deviceChunk: .deviceChunk
        case .endOfRound: .endOfRound
        case .roundAck: .roundAck
        case .resumeConfirm: .resumeConfirm
        case .vcpuState: .vcpuState
        }
    }

    /// An Error message, the usual last frame before closing a connection.
    public static func error(_ code: Ferry_V1_ErrorCode, _ message: String) -> WireMessage {
        var error = Ferry_V1_Error()
        error.code = code
        error.message = message
        return .error(error)
    }

    /// Decodes a frame's message as its type's schema.
    public init(frame: Frame) throws(WireError) {
        let type = frame.type
        func decode<M: SwiftProtobuf.Message>(_: M.Type) throws(WireError) -> M {
            do {
                return try M(serializedBytes: frame.message)
            } catch {
                throw .badMessage(type, reason: String(describing: error))
            }
        }
        if !frame.payload.isEmpty && !type.carriesPayload {
            throw .payloadNotAllowed(type, length: UInt32(clamping: frame.payload.count))
        }
        switch type {
        case .hello: self = .hello(try decode(Ferry_V1_Hello.self))
        case .welcome: self = .welcome(try decode(Ferry_V1_Welcome.self))
        case .error: self = .error(try decode(Ferry_V1_Error.self))
        case .heartbeat: self = .heartbeat(try decode(Ferry_V1_Heartbeat.self))
        case .inventory: self = .inventory(try decode(Ferry_V1_Inventory.self))
        case .command: self = .command(try decode(Ferry_V1_Command.self))
        case .commandResult: self = .commandResult(try decode(Ferry_V1_CommandResult.self))
        case .progress: self = .progress(try decode(Ferry_V1_Progress.self))
        case .event: self = .event(try decode(Ferry_V1_Event.self))
        case .streamHello: self = .streamHello(try decode(Ferry_V1_StreamHello.self))
        case .streamWelcome: self = .streamWelcome(try decode(Ferry_V1_StreamWelcome.self))
        case .pageBatch: self = .pageBatch(try decode(Ferry_V1_PageBatch.self), payload: frame.payload)
        case .deviceChunk: self = .deviceChunk(try decode(Ferry_V1_DeviceChunk.self), payload: frame.payload)
        case .endOfRound: self = .endOfRound(try decode(Ferry_V1_EndOfRound.self))
        case .roundAck: self = .roundAck(try decode(Ferry_V1_RoundAck.self))
        case .resumeConfirm: self = .resumeConfirm(try decode(Ferry_V1_ResumeConfirm.self))
        case .vcpuState: self = .vcpuState(try decode(Ferry_V1_VcpuState.self))
        case .unspecified, .UNRECOGNIZED: throw .unknownType(UInt8(truncatingIfNeeded: type.rawValue))
        }
    }

    /// The frame carrying this message.
    public func frame() throws(WireError) -> Frame {
        let type = frameType
        func bytes(_ message: some SwiftProtobuf.Message) throws(WireError) -> [UInt8] {
            do {
                return try message.serializedBytes()
            } catch {
                throw .encodingFailed(type, reason: String(describing: error))
            }
        }
        switch self {
        case .hello(let m): return Frame(type: type, message: try bytes(m))
        case .welcome(let m): return Frame(type: type, message: try bytes(m))
        case .error(let m): return Frame(type: type, message: try bytes(m))
        case .heartbeat(let m): return Frame(type: type, message: try bytes(m))
        case .inventory(let m): return Frame(type: type, message: try bytes(m))
        case .command(let m): return Frame(type: type, message: try bytes(m))
        case .commandResult(let m): return Frame(type: type, message: try bytes(m))
        case .progress(let m): return Frame(type: type, message: try bytes(m))
        case .event(let m): return Frame(type: type, message: try bytes(m))
        case .streamHello(let m): return Frame(type: type, message: try bytes(m))
        case .streamWelcome(let m): return Frame(type: type, message: try bytes(m))
        case .pageBatch(let m, let payload): return Frame(type: type, message: try bytes(m), payload: payload)
        case .deviceChunk(let m, let payload): return Frame(type: type, message: try bytes(m), payload: payload)
        case .endOfRound(let m): return Frame(type: type, message: try bytes(m))
        case .roundAck(let m): return Frame(type: type, message: try bytes(m))
        case .resumeConfirm(let m): return Frame(type: type, message: try bytes(m))
        case .vcpuState(let m): return Frame(type: type, message: try bytes(m))
        }
    }

    /// The complete frame bytes (fixed header, message, payload).
    public func encoded() throws(WireError) -> [UInt8] {
        try frame().encoded()
    }
}
