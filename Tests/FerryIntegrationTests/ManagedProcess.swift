import Foundation

/// A real child process (ferryd, ferry-agent, ferryctl) started by an integration test, with its
/// stdout and stderr captured in files under the test's directory so a failure can show them.
final class ManagedProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    let logURL: URL

    init(name: String, executable: URL, arguments: [String], directory: URL, environment: [String: String] = [:]) throws
    {
        self.name = name
        logURL = directory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Waits for the process to exit; nil if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// The last lines of the process's output, for failure messages.
    func tail(_ lines: Int = 30) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return "--- \(name) (last \(lines) lines) ---\n"
            + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    deinit { signal(SIGKILL) }
}

/// Result of running a short-lived command to completion.
struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` to completion (bounded by `timeout`) and returns its status and output.
///
/// Output goes to files, not pipes: a pipe's write end leaks into any child another test spawns at
/// the same moment (agents live for the whole test), so reading it to EOF could block for good, and
/// blocking reads on the 2-core cooperative pool starved every other test (seen as a hang).
func runCommand(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
    timeout: Duration = .seconds(30)
) async throws -> CommandOutput {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { _, new in new }
    process.environment = env
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cmd-\(UUID().uuidString)")
    let outURL = base.appendingPathExtension("out")
    let errURL = base.appendingPathExtension("err")
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    try process.run()
    try? out.close()
    try? err.close()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now >= deadline {
            process.terminate()
            throw IntegrationError.timeout("\(executable.lastPathComponent) \(arguments.joined(separator: " "))")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    return CommandOutput(
        status: process.terminationStatus,
        stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
        stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
}

enum IntegrationError: Error, CustomStringConvertible {
    case missingBinary(String, hint: String)
    case timeout(String)

    var description: String {
        switch self {
        case .missingBinary(let path, let hint): "missing binary \(path): \(hint)"
        case .timeout(let what): "timed out: \(what)"
        }
    }
}

/// Polls `condition` until it is true or `timeout` passes; returns whether it became true.
func eventually(
    timeout: Duration, every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}
