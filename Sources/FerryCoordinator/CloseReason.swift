import FerryWire

/// Why an agent connection ended; logged, and (for protocol failures) sent in an Error frame.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    case peerClosed
    case helloTimeout
    /// The bytes were not a valid frame or message.
    case badFrame(WireError)
    /// We refused the agent or a message of it, with this Error.
    case rejected(Ferry_V1_ErrorCode, String)
    /// The agent sent an Error and is going away.
    case peerError(Ferry_V1_ErrorCode, String)
    /// The registry dropped the connection.
    case evicted(EvictionReason)

    public var description: String {
        switch self {
        case .peerClosed: "closed by the agent"
        case .helloTimeout: "no hello in time"
        case .badFrame(let error): "bad frame: \(error)"
        case .rejected(let code, let message): "rejected (\(code)): \(message)"
        case .peerError(let code, let message): "agent reported \(code): \(message)"
        case .evicted(let reason): "dropped: \(reason)"
        }
    }
}

/// Why the registry drops a live connection.
public enum EvictionReason: Sendable, Equatable, CustomStringConvertible {
    /// A new connection for the same host (same boot id, or this one had gone silent) took over.
    case replaced
    /// Nothing received for heartbeat_miss_limit intervals.
    case silent(for: Duration)
    /// What the agent said could not be recorded; it reconnects and says it again.
    case storeFailed(String)
    /// ferryd is shutting down.
    case shuttingDown

    /// The Error frame to send before closing, if the agent should be told.
    var errorToSend: (code: Ferry_V1_ErrorCode, message: String)? {
        switch self {
        case .replaced, .silent: nil
        case .storeFailed(let reason): (.internal, "ferryd could not record it: \(reason)")
        case .shuttingDown: (.aborted, "ferryd is shutting down")
        }
    }

    public var description: String {
        switch self {
        case .replaced: "replaced by a new connection for the same host"
        case .silent(let duration): "nothing received for \(duration)"
        case .storeFailed(let reason): "store failed: \(reason)"
        case .shuttingDown: "shutting down"
        }
    }
}
