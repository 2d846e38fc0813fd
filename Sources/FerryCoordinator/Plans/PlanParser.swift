import FerryModel
import Yams

/// Reads a plan file (YAML; JSON is accepted as the YAML subset it is) into a `PlanDocument`,
/// collecting every structural problem with its line: unknown keys, missing fields, wrong types,
/// bad units. Entries with problems are left out of the document; the rest still get validated,
/// so one submission shows everything that is wrong.
///
///     name: rack-12-maintenance
///     policy:                         # every key optional; defaults in MigrationPolicy
///       max_downtime: 300ms
///       bandwidth: 1GiB/s             # or "unlimited"
///       completion_timeout_per_gib: 150s
///       no_progress_window: 150s
///       max_rounds: 30
///       auto_converge: false
///       channels: 2
///       priority: 0
///     migrations:
///       - vm: vm-1
///         source: host-a
///         destination: host-b
///         wave: 1                     # optional, default 1
///         priority: 10                # optional, overrides the policy's
///       - evacuate: host-c
///         candidates: [host-d, host-e]
///         wave: 2
public struct PlanParser {
    public let file: String
    var problems: [PlanProblem] = []

    static let topKeys = ["name", "policy", "migrations"]
    static let policyKeys = [
        "max_downtime", "bandwidth", "completion_timeout_per_gib", "no_progress_window", "max_rounds",
        "auto_converge", "channels", "priority",
    ]
    static let entryKeys = ["vm", "source", "destination", "evacuate", "candidates", "wave", "priority"]

    public init(file: String) {
        self.file = file
    }

    /// The document (nil when nothing usable was found) and every problem.
    public static func parse(_ text: String, file: String) -> (document: PlanDocument?, problems: [PlanProblem]) {
        var parser = PlanParser(file: file)
        let document = parser.run(text)
        return (document, parser.problems)
    }

    mutating func problem(_ node: Node?, _ field: String, _ reason: String) {
        problems.append(PlanProblem(file: file, line: node?.mark?.line ?? 0, field: field, reason: reason))
    }

    mutating func run(_ text: String) -> PlanDocument? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            problems.append(Self.problem(from: error, file: file))
            return nil
        } catch {
            problems.append(PlanProblem(file: file, line: 0, field: "(file)", reason: "\(error)"))
            return nil
        }
        guard let root, case .mapping(let top) = root else {
            problem(root, "(file)", "a plan is a mapping with name, policy and migrations")
            return nil
        }
        checkKeys(top, allowed: Self.topKeys, path: "")
        let name = string(top, "name", path: "name", required: true, around: root) ?? ""
        var policy = MigrationPolicy.defaults
        if let node = top["policy"] {
            if case .mapping(let mapping) = node {
                policy = parsePolicy(mapping)
            } else {
                problem(node, "policy", "must be a mapping")
            }
        }
        var entries: [PlanEntry] = []
        let migrationsNode = top["migrations"]
        switch migrationsNode {
        case nil:
            problem(root, "migrations", "missing (a list of migrations)")
        case .sequence(let sequence)?:
            if sequence.isEmpty { problem(migrationsNode, "migrations", "is empty") }
            for (index, node) in sequence.enumerated() {
                if let entry = parseEntry(node, path: "migrations[\(index)]", defaultPriority: policy.priority) {
                    entries.append(entry)
                } else {
                    // Keep indexes stable for messages: a placeholder that validation skips is not
                    // needed, because validation only reports on entries that parsed.
                    continue
                }
            }
        case let other?:
            problem(other, "migrations", "must be a list")
        }
        return PlanDocument(
            name: name, policy: policy, entries: entries, migrationsLine: migrationsNode?.mark?.line ?? 0)
    }

    static func problem(from error: YamlError, file: String) -> PlanProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PlanProblem(file: file, line: mark.line, field: "(file)", reason: "not valid YAML: \(problem)")
        default:
            return PlanProblem(file: file, line: 0, field: "(file)", reason: "not valid YAML: \(error)")
        }
    }

    // MARK: - Sections

    mutating func parsePolicy(_ mapping: Node.Mapping) -> MigrationPolicy {
        checkKeys(mapping, allowed: Self.policyKeys, path: "policy.")
        var policy = MigrationPolicy.defaults
        if let ms = quantity(mapping, "max_downtime", Units.milliseconds) {
            if ms == 0 { problem(mapping["max_downtime"], "policy.max_downtime", "must be more than 0") }
            policy.maxDowntimeMs = ms
        }
        if let rate = quantity(mapping, "bandwidth", Units.bytesPerSecond) { policy.bandwidthBytesPerSec = rate }
        if let ms = quantity(mapping, "completion_timeout_per_gib", Units.milliseconds) {
            if ms < 1000 {
                problem(
                    mapping["completion_timeout_per_gib"], "policy.completion_timeout_per_gib", "must be at least 1s")
            }
            policy.completionSecondsPerGiB = ms / 1000
        }
        if let ms = quantity(mapping, "no_progress_window", Units.milliseconds) {
            if ms < 1000 { problem(mapping["no_progress_window"], "policy.no_progress_window", "must be at least 1s") }
            policy.noProgressWindowSeconds = ms / 1000
        }
        if let rounds = integer(mapping, "max_rounds", path: "policy.max_rounds", range: 1...10_000) {
            policy.maxRounds = UInt32(rounds)
        }
        if let value = mapping["auto_converge"] {
            switch value.scalar?.string {
            case "true"?, "yes"?, "on"?: policy.autoConverge = true
            case "false"?, "no"?, "off"?: policy.autoConverge = false
            default: problem(value, "policy.auto_converge", "must be true or false")
            }
        }
        let channels = MigrationPolicy.channelRange
        if let n = integer(
            mapping, "channels", path: "policy.channels", range: Int(channels.lowerBound)...Int(channels.upperBound))
        {
            policy.channels = UInt32(n)
        }
        if let p = integer(mapping, "priority", path: "policy.priority", range: MigrationPolicy.priorityRange) {
            policy.priority = p
        }
        return policy
    }

    mutating func parseEntry(_ node: Node, path: String, defaultPriority: Int) -> PlanEntry? {
        guard case .mapping(let mapping) = node else {
            problem(node, path, "must be a mapping (vm/source/destination or evacuate/candidates)")
            return nil
        }
        let before = problems.count
        checkKeys(mapping, allowed: Self.entryKeys, path: "\(path).")
        var fieldLines: [String: Int] = [:]
        for (key, value) in mapping { if let k = key.string { fieldLines[k] = value.mark?.line ?? key.mark?.line } }
        let wave = integer(mapping, "wave", path: "\(path).wave", range: 1...1000) ?? 1
        let priority = integer(mapping, "priority", path: "\(path).priority", range: MigrationPolicy.priorityRange)
        let target: PlanTarget?
        if mapping["evacuate"] != nil {
            for key in ["vm", "source", "destination"] where mapping[key] != nil {
                problem(mapping[key], "\(path).\(key)", "not allowed with evacuate (evacuate moves every VM of a host)")
            }
            let host = string(mapping, "evacuate", path: "\(path).evacuate", required: true)
            let candidates = stringList(mapping, "candidates", path: "\(path).candidates", around: node)
            target = host.flatMap { h in candidates.map { .evacuate(host: h, candidates: $0) } }
        } else {
            if mapping["candidates"] != nil {
                problem(mapping["candidates"], "\(path).candidates", "only with evacuate (use destination for one VM)")
            }
            let vm = string(mapping, "vm", path: "\(path).vm", required: true, around: node)
            let source = string(mapping, "source", path: "\(path).source", required: true, around: node)
            let destination = string(mapping, "destination", path: "\(path).destination", required: true, around: node)
            if let vm, let source, let destination {
                target = .migrate(vmID: vm, source: source, destination: destination)
            } else {
                target = nil
            }
        }
        guard let target, problems.count == before else { return nil }
        return PlanEntry(
            target: target, wave: wave, priority: priority, line: node.mark?.line ?? 0, fieldLines: fieldLines)
    }

    // MARK: - Fields

    mutating func checkKeys(_ mapping: Node.Mapping, allowed: [String], path: String) {
        for key in mapping.keys {
            guard let name = key.string else {
                problem(key, path.isEmpty ? "(key)" : String(path.dropLast()), "keys must be strings")
                continue
            }
            guard !allowed.contains(name) else { continue }
            let hint =
                allowed.min { editDistance($0, name) < editDistance($1, name) }
                .flatMap { editDistance($0, name) <= 2 ? " (did you mean '\($0)'?)" : nil } ?? ""
            problem(key, path + name, "unknown key\(hint); known: \(allowed.joined(separator: ", "))")
        }
    }

    mutating func string(
        _ mapping: Node.Mapping, _ key: String, path: String, required: Bool, around: Node? = nil
    ) -> String? {
        guard let node = mapping[key] else {
            if required { problem(around ?? mapping[key], path, "missing") }
            return nil
        }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            problem(node, path, "must be a non-empty string")
            return nil
        }
        return scalar.string
    }

    mutating func stringList(_ mapping: Node.Mapping, _ key: String, path: String, around: Node) -> [String]? {
        guard let node = mapping[key] else {
            problem(around, path, "missing (a list of candidate destination hosts)")
            return nil
        }
        guard case .sequence(let sequence) = node else {
            problem(node, path, "must be a list of host ids")
            return nil
        }
        var values: [String] = []
        for (i, item) in sequence.enumerated() {
            guard case .scalar(let scalar) = item, !scalar.string.isEmpty else {
                problem(item, "\(path)[\(i)]", "must be a host id")
                return nil
            }
            values.append(scalar.string)
        }
        return values
    }

    mutating func integer(_ mapping: Node.Mapping, _ key: String, path: String, range: ClosedRange<Int>) -> Int? {
        guard let node = mapping[key] else { return nil }
        guard let text = node.scalar?.string, let value = Int(text) else {
            problem(node, path, "must be an integer")
            return nil
        }
        guard range.contains(value) else {
            problem(node, path, "must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    mutating func quantity(
        _ mapping: Node.Mapping, _ key: String, _ parse: (String) -> Result<UInt64, UnitError>
    ) -> UInt64? {
        guard let node = mapping[key] else { return nil }
        guard let text = node.scalar?.string else {
            problem(node, "policy.\(key)", "must be a quantity with a unit")
            return nil
        }
        switch parse(text) {
        case .success(let value): return value
        case .failure(let error):
            problem(node, "policy.\(key)", error.description)
            return nil
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on unknown keys (keys are short).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}
