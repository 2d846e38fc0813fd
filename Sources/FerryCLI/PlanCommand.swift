import ArgumentParser
import FerryModel
import Foundation

extension Ferryctl {
    /// `ferryctl plan submit|validate|list|show|cancel`.
    public struct PlanCommand: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "plan", abstract: "Migration plans: submit, validate (dry run), list, show, cancel.",
            subcommands: [Submit.self, Validate.self, List.self, Show.self, Cancel.self])

        public init() {}
    }
}

/// Sends a plan file; on 422 prints every problem (`FILE:LINE: field: reason`) and fails.
func sendPlan(path: String, dryRun: Bool, options: GlobalOptions, context: CommandContext, output: inout String)
    async throws(CLIError) -> Data
{
    let text: Data
    do {
        text = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw .unreadableFile(path: path, reason: (error as NSError).localizedDescription)
    }
    let client = APIClient(server: try options.serverURL(environment: context.environment))
    do {
        return try await client.submitPlan(text, file: path, dryRun: dryRun).body
    } catch .invalidPlan(let problems, let body) {
        switch options.output {
        case .json: output += body.asOutputText
        case .table: output += problems.map { "\($0)\n" }.joined()
        }
        throw .invalidPlan(problems: problems, body: body)
    }
}

extension Ferryctl.PlanCommand {
    public struct Submit: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "submit", abstract: "Validate and store a plan (YAML or JSON); its migrations start pending.")
        @Argument(help: "The plan file.") public var file: String
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let body = try await sendPlan(
                path: file, dryRun: false, options: options, context: context, output: &output)
            switch options.output {
            case .json: output += body.asOutputText
            case .table:
                let submitted = try PlanRendering.decode(SubmittedPlan.self, body)
                output +=
                    "plan \(submitted.plan.id) '\(submitted.plan.name)' accepted: \(submitted.migrations.count) migrations\n"
                output += PlanRendering.migrations(submitted.migrations)
            }
        }
    }

    public struct Validate: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "validate", abstract: "Dry run: check a plan against the cluster, store nothing.")
        @Argument(help: "The plan file.") public var file: String
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let body = try await sendPlan(path: file, dryRun: true, options: options, context: context, output: &output)
            switch options.output {
            case .json: output += body.asOutputText
            case .table:
                let validated = try PlanRendering.decode(ValidatedPlan.self, body)
                output += "\(file): valid, \(validated.migrations.count) migrations\n"
                if let prediction = validated.prediction {
                    output += PlanRendering.predicted(validated.migrations, prediction)
                } else {
                    output += PlanRendering.planned(validated.migrations)
                }
            }
        }
    }

    public struct List: OutputCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "List plans.")
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let response = try await APIClient(server: try options.serverURL(environment: context.environment)).plans()
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table: output += PlanRendering.plans(response.value.plans)
            }
        }
    }

    public struct Show: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show a plan and its migrations.")
        @Argument(help: "The plan's id.") public var id: String
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let response = try await APIClient(server: try options.serverURL(environment: context.environment))
                .plan(id: id)
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table:
                let detail = response.value
                output +=
                    "plan \(detail.plan.id) '\(detail.plan.name)' (\(detail.plan.fileName)): \(detail.status.rawValue)\n"
                output += PlanRendering.migrations(detail.migrations)
            }
        }
    }

    public struct Cancel: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "Cancel every migration of a plan that can still be cancelled.")
        @Argument(help: "The plan's id.") public var id: String
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let response = try await APIClient(server: try options.serverURL(environment: context.environment))
                .cancelPlan(id: id)
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table:
                for id in response.value.cancelled { output += "\(id): cancelled\n" }
                for refusal in response.value.refused {
                    output += "\(refusal.migrationId): not cancelled: \(refusal.reason)\n"
                }
            }
        }
    }
}

extension Ferryctl {
    /// `ferryctl events [--plan ID] [--migration ID]`: the history, oldest first.
    public struct Events: OutputCommand {
        public static let configuration = CommandConfiguration(
            commandName: "events", abstract: "Event history of plans and migrations, oldest first.")
        @Option(help: "Only this plan's events.") public var plan: String?
        @Option(help: "Only this migration's events.") public var migration: String?
        @OptionGroup public var options: GlobalOptions
        public init() {}

        public func perform(_ context: CommandContext, output: inout String) async throws(CLIError) {
            let response = try await APIClient(server: try options.serverURL(environment: context.environment))
                .events(plan: plan, migration: migration)
            switch options.output {
            case .json: output += response.body.asOutputText
            case .table: output += PlanRendering.events(response.value.events)
            }
        }
    }
}
