import ArgumentParser
import Foundation

extension Ferryctl {
    /// `ferryctl hosts [list]` and `ferryctl hosts show ID`.
    public struct Hosts: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "hosts",
            abstract: "Hypervisor hosts registered by their agents.",
            subcommands: [List.self, Show.self],
            defaultSubcommand: List.self)

        public init() {}
    }
}

extension Ferryctl.Hosts {
    /// Every host, ordered by id.
    public struct List: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List hosts: status, resources, inventory size, last heartbeat.")

        @OptionGroup public var options: GlobalOptions

        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let client = APIClient(server: try options.serverURL(environment: context.environment))
            let response = try await client.hosts()
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table: output += HostRendering.table(response.value.hosts, now: context.now)
            }
        }
    }

    /// One host with its devices and VMs.
    public struct Show: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show one host with its devices and VMs.")

        @Argument(help: "The host's id (its agent's --host-id).")
        public var id: String

        @OptionGroup public var options: GlobalOptions

        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let client = APIClient(server: try options.serverURL(environment: context.environment))
            let response = try await client.host(id: id)
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table: output += HostRendering.detail(response.value, now: context.now)
            }
        }
    }
}
