import FerryWire

/// Identifies one accepted agent connection for the life of the process, so a late event from a
/// replaced connection cannot be mistaken for one from its successor.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "c\(rawValue)" }
}

/// The registry's way to drop a live connection, or send a frame on it, without owning its socket.
public protocol EvictableConnection: Sendable {
    func evict(_ reason: EvictionReason)
    /// Queues a frame for the agent (commands); sent in order by the connection's loop.
    func send(_ message: WireMessage)
}
