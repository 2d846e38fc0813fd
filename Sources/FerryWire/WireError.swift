/// Why bytes from a peer are not a valid frame or message. Every case names what was wrong so the
/// log line and the Error frame sent back say it without guessing.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first four bytes are not 'FERY'.
    case badMagic(UInt32)
    /// A frame layout version this build does not know.
    case badVersion(UInt8)
    /// The type byte is UNSPECIFIED or not a FrameType.
    case unknownType(UInt8)
    /// Reserved flag bits are set.
    case reservedFlags(UInt16)
    /// The protobuf message is longer than the limit.
    case headerTooLong(UInt32, limit: UInt32)
    /// The raw payload is longer than the limit.
    case payloadTooLong(UInt32, limit: UInt32)
    /// A raw payload on a type that has none (only PAGE_BATCH and DEVICE_CHUNK carry one).
    case payloadNotAllowed(Ferry_V1_FrameType, length: UInt32)
    /// The message bytes do not decode as the type's protobuf message.
    case badMessage(Ferry_V1_FrameType, reason: String)
    /// A message could not be serialized (a bug on our side, not the peer's).
    case encodingFailed(Ferry_V1_FrameType, reason: String)
    /// Fewer bytes than a fixed header were given to `FrameHeader.parse`.
    case truncated(have: Int, need: Int)

    public var description: String {
        switch self {
        case .badMagic(let magic): "bad frame magic 0x\(String(magic, radix: 16)) (want 0x59524546 'FERY')"
        case .badVersion(let version): "unknown frame version \(version) (this build speaks \(FrameLimits.version))"
        case .unknownType(let type): "unknown frame type \(type)"
        case .reservedFlags(let flags): "reserved frame flags set: 0x\(String(flags, radix: 16))"
        case .headerTooLong(let length, let limit): "frame message length \(length) over the limit \(limit)"
        case .payloadTooLong(let length, let limit): "frame payload length \(length) over the limit \(limit)"
        case .payloadNotAllowed(let type, let length):
            "\(type.name) frame carries a \(length)-byte payload; only page_batch and device_chunk may"
        case .badMessage(let type, let reason): "\(type.name) message does not decode: \(reason)"
        case .encodingFailed(let type, let reason): "cannot encode \(type.name) message: \(reason)"
        case .truncated(let have, let need): "frame header truncated: \(have) of \(need) bytes"
        }
    }

    /// The ErrorCode to send back to the peer before closing.
    public var errorCode: Ferry_V1_ErrorCode {
        switch self {
        case .badMessage: .badMessage
        case .encodingFailed: .internal
        default: .badFrame
        }
    }
}
