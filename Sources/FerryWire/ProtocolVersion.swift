/// Message-level protocol versions (Hello/Welcome `protocol_version`). Rule: bump only for
/// breaking changes, and keep accepting the previous version (`minimum`) for one release.
public struct ProtocolVersionRange: Sendable, Equatable, CustomStringConvertible {
    public var lowest: UInt32
    public var highest: UInt32

    public init(lowest: UInt32, highest: UInt32) {
        self.lowest = lowest
        self.highest = highest
    }

    /// What this build speaks: 1...1. Same as FERRY_PROTOCOL_MIN_VERSION...FERRY_PROTOCOL_VERSION in C.
    public static let thisBuild = ProtocolVersionRange(lowest: 1, highest: 1)

    public var description: String { "\(lowest)..\(highest)" }

    /// The version two peers use: the highest one both speak, or nil if the ranges do not
    /// overlap (or the peer's range is empty, e.g. lowest above highest).
    public static func negotiate(peer: ProtocolVersionRange, ours: ProtocolVersionRange = .thisBuild) -> UInt32? {
        guard peer.lowest <= peer.highest, ours.lowest <= ours.highest else { return nil }
        let chosen = min(peer.highest, ours.highest)
        return chosen >= max(peer.lowest, ours.lowest) ? chosen : nil
    }
}
