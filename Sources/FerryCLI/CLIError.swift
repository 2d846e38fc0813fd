import FerryModel
import Foundation

/// Everything that makes a ferryctl command fail after its arguments were accepted.
public enum CLIError: Error, Equatable, CustomStringConvertible {
    /// No HTTP answer at all: connection refused, timeout, unknown host.
    case unreachable(url: String, reason: String)
    /// ferryd answered with an error (`{"error":{"code","message"}}`).
    case http(status: Int, code: String, message: String)
    /// ferryd answered 2xx with a body ferryctl cannot understand.
    case badResponse(reason: String)
    /// `--server` / `$FERRY_SERVER` is not `http(s)://HOST[:PORT]`.
    case invalidServer(value: String, reason: String)
    /// ferryd refused a plan (422); the problems are printed one per line before this error.
    case invalidPlan(problems: [PlanProblem], body: Data)
    /// A plan file could not be read.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason): "cannot reach ferryd at \(url): \(reason)"
        case .http(_, let code, let message): "\(code): \(message)"
        case .badResponse(let reason): "unexpected answer from ferryd: \(reason)"
        case .invalidServer(let value, let reason): "invalid server URL '\(value)': \(reason)"
        case .invalidPlan(let problems, _):
            "invalid_plan: the plan has \(problems.count) problem\(problems.count == 1 ? "" : "s")"
        case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
        }
    }

    /// 1 when ferryd could not do it, 2 when the operator asked for something malformed (usage).
    public var exitCode: Int32 {
        switch self {
        case .unreachable, .http, .badResponse, .invalidPlan, .unreadableFile: 1
        case .invalidServer: 2
        }
    }
}
