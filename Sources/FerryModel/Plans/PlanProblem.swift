/// One thing wrong with a plan, located for the operator: `FILE:LINE: field: reason`.
public struct PlanProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no place in the file (e.g. the file is empty).
    public var line: Int
    /// Path of the field, e.g. `migrations[2].destination` or `policy.max_downtime`.
    public var field: String
    public var reason: String

    public init(file: String, line: Int, field: String, reason: String) {
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(file):\(line): \(field): \(reason)" }
}

/// A plan that cannot be accepted, with every problem found, in file order.
public struct PlanInvalid: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [PlanProblem]

    public init(_ problems: [PlanProblem]) {
        self.problems = problems.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
