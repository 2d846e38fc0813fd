import ArgumentParser
import Foundation

/// `ferryctl`: the operator's view of a Ferry cluster, through ferryd's HTTP API.
public struct Ferryctl: AsyncParsableCommand {
    /// ferryctl's own version (ferryd reports its own on /v1/version).
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "ferryctl",
        abstract: "Operate a Ferry cluster: hosts, devices and VMs known to ferryd.",
        version: version,
        subcommands: [
            Hosts.self, PlanCommand.self, Status.self, Watch.self, MigrationCommand.self, Events.self, Version.self,
        ])

    public init() {}

    /// Exit status for malformed command lines (ArgumentParser's own default is 64).
    public static let usageExitCode: Int32 = 2

    /// The executable's entry point. Not named `main()`: ArgumentParser's synchronous `main()`
    /// would win overload resolution in top-level code and bypass `execute` (its own error format
    /// and exit codes).
    public static func runFromCommandLine() async -> Never {
        let result = await execute(Array(CommandLine.arguments.dropFirst()), context: .live)
        FileHandle.standardOutput.write(Data(result.stdout.utf8))
        FileHandle.standardError.write(Data(result.stderr.utf8))
        Foundation.exit(result.exitCode)
    }

    /// Parses `arguments`, runs the command and returns what it printed and its exit status:
    /// 0 success, 1 ferryd unreachable or refused, 2 usage error. Errors are one `ferryctl: ...` line.
    public static func execute(_ arguments: [String], context: CommandContext) async -> CommandResult {
        let parsed: any ParsableCommand
        do {
            parsed = try parseAsRoot(arguments)
        } catch {
            return outcome(ofParseError: error)
        }
        guard let command = parsed as? any OutputCommand else {
            // `ferryctl SUBCOMMAND --help` and `ferryctl help SUBCOMMAND` parse into ArgumentParser's
            // help command, whose run() throws the help request for that subcommand.
            var builtIn = parsed
            do {
                try builtIn.run()
            } catch {
                return outcome(ofParseError: error)
            }
            // `ferryctl` alone: there is nothing to run but the help.
            return CommandResult(stdout: helpMessage() + "\n", stderr: "", exitCode: 0)
        }
        var output = ""
        do {
            try await command.perform(context, output: &output)
            return CommandResult(stdout: output, stderr: "", exitCode: 0)
        } catch {
            return CommandResult(stdout: output, stderr: "ferryctl: \(error.description)\n", exitCode: error.exitCode)
        }
    }

    /// `--help` and `--version` succeed with their text on stdout; anything else is a usage error.
    static func outcome(ofParseError error: any Error) -> CommandResult {
        if exitCode(for: error) == .success {
            return CommandResult(stdout: fullMessage(for: error) + "\n", stderr: "", exitCode: 0)
        }
        let message = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
        return CommandResult(
            stdout: "", stderr: "ferryctl: \(message) (see 'ferryctl --help')\n", exitCode: usageExitCode)
    }
}
