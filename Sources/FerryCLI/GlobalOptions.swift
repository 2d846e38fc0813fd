import ArgumentParser
import Foundation

/// How ferryctl prints results.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Aligned columns for people.
    case table
    /// ferryd's JSON body as is, for scripts.
    case json
}

/// Options every ferryctl command takes.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(help: "ferryd's API URL, http(s)://HOST[:PORT] (default: $FERRY_SERVER, else \(ServerURL.defaultValue)).")
    public var server: String?

    @Option(help: "Output format: table or json.")
    public var output: OutputFormat = .table

    public init() {}

    public func validate() throws {
        if let server {
            do {
                _ = try ServerURL.parse(server)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    /// The server to talk to: the flag, else `$FERRY_SERVER`, else the default.
    public func serverURL(environment: [String: String]) throws(CLIError) -> URL {
        try ServerURL.parse(server ?? environment[ServerURL.environmentVariable] ?? ServerURL.defaultValue)
    }
}
