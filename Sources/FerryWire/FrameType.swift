extension Ferry_V1_FrameType {
    /// The frame type for a header's type byte, or nil if it is UNSPECIFIED or not a known type.
    /// (The generated initializer maps unknown values to `.UNRECOGNIZED`, which the wire rejects.)
    public static func known(_ raw: UInt8) -> Ferry_V1_FrameType? {
        guard let type = Ferry_V1_FrameType(rawValue: Int(raw)), type.wireValue != nil else { return nil }
        return type
    }

    /// The header's type byte, or nil for UNSPECIFIED and unrecognized values.
    public var wireValue: UInt8? {
        switch self {
        case .unspecified, .UNRECOGNIZED: nil
        default: UInt8(exactly: rawValue)
        }
    }

    /// Only bulk data frames carry a raw payload after their message.
    public var carriesPayload: Bool { self == .pageBatch || self == .deviceChunk }

    /// Stable snake_case name for logs and error messages.
    public var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .hello: "hello"
        case .welcome: "welcome"
        case .error: "error"
        case .heartbeat: "heartbeat"
        case .inventory: "inventory"
        case .command: "command"
        case .commandResult: "command_result"
        case .progress: "progress"
        case .event: "event"
        case .streamHello: "stream_hello"
        case .streamWelcome: "stream_welcome"
        case .pageBatch: "page_batch"
        case .deviceChunk: "device_chunk"
        case .endOfRound: "end_of_round"
        case .roundAck: "round_ack"
        case .resumeConfirm: "resume_confirm"
        case .vcpuState: "vcpu_state"
        case .UNRECOGNIZED(let value): "unrecognized(\(value))"
        }
    }
}
