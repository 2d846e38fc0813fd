import ArgumentParser
import Foundation

/// What a command may read from the world, passed in so tests can fix it.
public struct CommandContext: Sendable {
    public var environment: [String: String]
    /// "Now" for ages such as "3s ago".
    public var now: Date

    public init(environment: [String: String], now: Date) {
        self.environment = environment
        self.now = now
    }

    public static var live: CommandContext {
        CommandContext(environment: ProcessInfo.processInfo.environment, now: Date())
    }
}

/// A ferryctl command that writes into a buffer instead of printing, so `Ferryctl.execute` (and its
/// tests) see exactly what the operator would, including output written before a failure.
public protocol OutputCommand: AsyncParsableCommand {
    func perform(_ context: CommandContext, output: inout String) async throws(CLIError)
}

extension OutputCommand {
    /// Only reached when a command is run through ArgumentParser's own entry points; `Ferryctl.main`
    /// goes through `Ferryctl.execute`. Behaves the same either way.
    public mutating func run() async throws {
        var output = ""
        do {
            try await perform(.live, output: &output)
            print(output, terminator: "")
        } catch {
            print(output, terminator: "")
            FileHandle.standardError.write(Data("ferryctl: \(error.description)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }
}

/// A command's whole effect: its two output streams and its exit status.
public struct CommandResult: Sendable, Equatable {
    public var stdout: String
    public var stderr: String
    public var exitCode: Int32

    public init(stdout: String, stderr: String, exitCode: Int32) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
    }
}

extension Data {
    /// The API body for `--output json`: unchanged, plus a final newline if it has none so the
    /// shell prompt does not land on the last line.
    var asOutputText: String {
        let text = String(decoding: self, as: UTF8.self)
        return text.hasSuffix("\n") ? text : text + "\n"
    }
}
