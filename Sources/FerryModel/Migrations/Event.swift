import Foundation

/// One entry of the append-only history: a transition, a policy decision with its inputs, an
/// operator action, an agent report. Never updated or deleted.
public struct Event: Codable, Sendable, Equatable {
    /// Assigned by the store, strictly increasing: the history's order. 0 before it is stored.
    public var seq: Int64
    public var at: Date
    public var planID: String
    /// Empty for plan-level events.
    public var migrationID: String
    /// snake_case, e.g. `plan_submitted`, `phase_changed`, `throttle_raised`.
    public var kind: String
    /// One line for people.
    public var message: String
    /// The decision's inputs and other machine-readable details.
    public var attributes: [String: String]

    enum CodingKeys: String, CodingKey {
        case seq, at
        case planID = "planId"
        case migrationID = "migrationId"
        case kind, message, attributes
    }

    public init(
        seq: Int64 = 0, at: Date, planID: String, migrationID: String = "", kind: String, message: String,
        attributes: [String: String] = [:]
    ) {
        self.seq = seq
        self.at = at
        self.planID = planID
        self.migrationID = migrationID
        self.kind = kind
        self.message = message
        self.attributes = attributes
    }

    /// Attributes travel as a sorted `[{"key","value"}]` list: JSON key strategies would rewrite
    /// the keys of a dictionary (`dirty_rate` back into `dirtyRate`).
    struct Attribute: Codable {
        var key: String
        var value: String
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int64.self, forKey: .seq)
        at = try c.decode(Date.self, forKey: .at)
        planID = try c.decode(String.self, forKey: .planID)
        migrationID = try c.decode(String.self, forKey: .migrationID)
        kind = try c.decode(String.self, forKey: .kind)
        message = try c.decode(String.self, forKey: .message)
        let list = try c.decode([Attribute].self, forKey: .attributes)
        attributes = Dictionary(list.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(at, forKey: .at)
        try c.encode(planID, forKey: .planID)
        try c.encode(migrationID, forKey: .migrationID)
        try c.encode(kind, forKey: .kind)
        try c.encode(message, forKey: .message)
        try c.encode(
            attributes.sorted { $0.key < $1.key }.map { Attribute(key: $0.key, value: $0.value) }, forKey: .attributes)
    }
}
