import FerryModel
import Foundation

/// Where the binaries under test are. `scripts/test` sets FERRY_BIN_DIR (swift's bin path) and
/// FERRY_AGENT_BIN; without them the paths are derived from this file's place in the repo.
enum Binaries {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func swiftBinary(_ name: String) throws -> URL {
        let dir =
            ProcessInfo.processInfo.environment["FERRY_BIN_DIR"]
            ?? repoRoot.appendingPathComponent(".build/debug").path
        return try existing(URL(fileURLWithPath: dir).appendingPathComponent(name), hint: "run `swift build`")
    }

    static func agent() throws -> URL {
        let path =
            ProcessInfo.processInfo.environment["FERRY_AGENT_BIN"]
            ?? repoRoot.appendingPathComponent("agents/build/ferry-agent").path
        return try existing(URL(fileURLWithPath: path), hint: "run `make -C agents`")
    }

    private static func existing(_ url: URL, hint: String) throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw IntegrationError.missingBinary(url.path, hint: hint)
        }
        return url
    }
}

/// What ferryd writes to DIR/ferryd.endpoints.json once it has bound its sockets.
struct Endpoints: Decodable {
    var agentsListen: String
    var apiListen: String
    var pid: Int
}

struct HostList: Decodable { var hosts: [HypervisorHost] }

/// One ferryd plus agents, as real processes on loopback, in a fresh temporary directory.
/// Heartbeats are fast (200 ms, 3 misses) so liveness changes show within about a second.
final class TestCluster: @unchecked Sendable {
    let directory: URL
    let dataDir: URL
    private(set) var ferryd: ManagedProcess?
    private(set) var endpoints: Endpoints?
    private(set) var agents: [String: ManagedProcess] = [:]
    private var generation = 0
    /// Extra ferryd options, kept for restarts (e.g. `--host-loss-window-ms`).
    var ferrydArguments: [String] = []

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ferry-it-\(UUID().uuidString.prefix(8))")
        dataDir = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
    }

    /// Starts ferryd on `agentsListen` (port 0: the kernel picks) and waits for its endpoints file.
    func startFerryd(agentsListen: String = "127.0.0.1:0") async throws {
        generation += 1
        let endpointsFile = dataDir.appendingPathComponent("ferryd.endpoints.json")
        try? FileManager.default.removeItem(at: endpointsFile)
        let process = try ManagedProcess(
            name: "ferryd-\(generation)", executable: try Binaries.swiftBinary("ferryd"),
            arguments: [
                "--data-dir", dataDir.path, "--agents-listen", agentsListen,
                "--api-listen", "127.0.0.1:0", "--heartbeat-interval-ms", "200",
                "--heartbeat-miss-limit", "3", "--log-level", "debug",
            ] + ferrydArguments,
            directory: directory)
        ferryd = process
        var found: Endpoints?
        _ = await eventually(timeout: .seconds(30)) {
            guard let data = try? Data(contentsOf: endpointsFile) else { return !process.isRunning }
            found = try? FerryJSON.decoder().decode(Endpoints.self, from: data)
            return found != nil
        }
        guard let found, found.pid == Int(process.pid) else {
            throw IntegrationError.timeout("ferryd endpoints file\n\(process.tail())")
        }
        endpoints = found
    }

    /// Starts an agent for `hostID`, optionally with a config file's text.
    func startAgent(_ hostID: String, config: String? = nil) throws {
        guard let endpoints else { throw IntegrationError.timeout("ferryd not started") }
        // Each agent plays its own host, so each needs its own VM registration socket.
        var args = [
            "--coordinator", endpoints.agentsListen, "--host-id", hostID,
            "--data-listen", "127.0.0.1:0", "--log-level", "debug",
            "--vm-socket", directory.appendingPathComponent("\(hostID).sock").path,
        ]
        if let config {
            let url = directory.appendingPathComponent("\(hostID).conf")
            try config.write(to: url, atomically: true, encoding: .utf8)
            args += ["--config", url.path]
        }
        generation += 1
        agents[hostID] = try ManagedProcess(
            name: "agent-\(hostID)-\(generation)", executable: try Binaries.agent(), arguments: args,
            directory: directory)
    }

    var serverURL: String { "http://\(endpoints?.apiListen ?? "127.0.0.1:1")" }

    /// Runs ferryctl against this cluster's ferryd.
    func ferryctl(_ arguments: [String]) async throws -> CommandOutput {
        try await runCommand(try Binaries.swiftBinary("ferryctl"), arguments + ["--server", serverURL])
    }

    /// `ferryctl hosts --output json`, decoded; nil when ferryctl fails.
    func hosts() async throws -> [HypervisorHost]? {
        let out = try await ferryctl(["hosts", "--output", "json"])
        guard out.status == 0 else { return nil }
        return try FerryJSON.decoder().decode(HostList.self, from: Data(out.stdout.utf8)).hosts
    }

    func status(of hostID: String) async throws -> HostStatus? {
        try await hosts()?.first { $0.id == hostID }?.status
    }

    /// Logs of every process, for failure messages.
    func logs() -> String {
        ([ferryd].compactMap { $0 } + agents.values).map { $0.tail() }.joined(separator: "\n")
    }

    /// Processes an agent started (the incoming workloads of migrated VMs), from /proc.
    private static func children(of pid: Int32) -> [Int32] {
        let path = "/proc/\(pid)/task/\(pid)/children"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    deinit {
        // The agents' children first: once an agent is gone they are orphans nobody stops.
        for process in agents.values where process.isRunning {
            for child in Self.children(of: process.pid) { kill(child, SIGKILL) }
        }
        for process in agents.values { process.signal(SIGKILL) }
        ferryd?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}
