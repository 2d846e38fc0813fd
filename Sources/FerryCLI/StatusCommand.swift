import ArgumentParser
import FerryModel
import Foundation

extension Ferryctl {
    /// `ferryctl status [PLAN|MIGRATION]`.
    public struct Status: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Migrations with phase, round, bytes, dirty rate, bandwidth, downtime and why they wait.")
        @Argument(help: "A plan id or a migration id (default: every migration).") public var target: String?
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let client = APIClient(server: try options.serverURL(environment: context.environment))
            let (body, statuses) = try await client.statuses(target)
            switch options.output {
            case .json: output += body.asOutputText
            case .table: output += StatusRendering.table(statuses)
            }
        }
    }

    /// `ferryctl migration cancel ID`.
    public struct MigrationCommand: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "migration", abstract: "One migration: cancel.", subcommands: [Cancel.self])
        public init() {}

        public struct Cancel: OutputCommand {
            public static let configuration = CommandConfiguration(
                commandName: "cancel", abstract: "Cancel a migration; before the point of no return it rolls back.")
            @Argument(help: "The migration id.") public var id: String
            @OptionGroup public var options: GlobalOptions
            public init() {}

            public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
                let client = APIClient(server: try options.serverURL(environment: context.environment))
                let response = try await client.cancelMigration(id: id)
                switch options.output {
                case .json: output += response.body.asOutputText
                case .table: output += StatusRendering.table([response.value])
                }
            }
        }
    }

    /// `ferryctl watch [PLAN|MIGRATION]`: redraws every interval until every migration shown ended.
    public struct Watch: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "watch",
            abstract: "Follow migrations live until all have ended (plain lines when stdout is not a terminal).")
        @Argument(help: "A plan id or a migration id (default: every migration).") public var target: String?
        @Option(help: "Seconds between refreshes.") public var interval: Double = 1
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let client = APIClient(server: try options.serverURL(environment: context.environment))
            let terminal = isatty(STDOUT_FILENO) == 1 && options.output == .table
            var lastLines: [String: String] = [:]
            while true {
                let (body, statuses) = try await client.statuses(target)
                var text = ""
                switch options.output {
                case .json:
                    text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\n", with: "") + "\n"
                case .table where terminal:
                    text = "\u{1B}[H\u{1B}[2J" + StatusRendering.table(statuses)
                case .table:
                    text = StatusRendering.changedLines(statuses, since: &lastLines)
                }
                FileHandle.standardOutput.write(Data(text.utf8))
                if statuses.allSatisfy({ $0.migration.phase.isTerminal }) { return }
                try? await Task.sleep(for: .seconds(max(0.1, interval)))
            }
        }
    }
}
