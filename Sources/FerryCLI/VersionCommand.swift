import ArgumentParser
import FerryModel
import Foundation

extension Ferryctl {
    /// `ferryctl version`: this client's version and the server's.
    public struct Version: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "version", abstract: "Show ferryctl's version and ferryd's.")

        @OptionGroup public var options: GlobalOptions

        public init() {}

        /// `--output json` shape: ferryd's part is its /v1/version body, decoded and re-encoded.
        struct Report: Encodable {
            struct Client: Encodable { var version: String }
            var ferryctl: Client
            var ferryd: ServerVersion
        }

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let client = APIClient(server: try options.serverURL(environment: context.environment))
            switch options.output {
            case .table:
                // ferryctl's own line comes first so it is there even when ferryd cannot be reached.
                output += "ferryctl  \(Ferryctl.version)\n"
                let server = try await client.version().value
                output +=
                    "ferryd    \(server.version) (protocol \(server.protocolVersion), min \(server.minProtocolVersion))\n"
            case .json:
                let server = try await client.version().value
                let report = Report(ferryctl: .init(version: Ferryctl.version), ferryd: server)
                do {
                    output += try FerryJSON.encoder().encode(report).asOutputText
                } catch {
                    throw .badResponse(reason: "cannot encode the version report: \(error)")
                }
            }
        }
    }
}
