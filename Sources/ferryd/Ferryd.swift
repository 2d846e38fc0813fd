import ArgumentParser
import FerryCoordinator
import FerryStore
import Foundation
import Logging
import ServiceLifecycle

/// ferryd: the Ferry coordinator. Agents dial --agents-listen, operators use --api-listen.
@main
struct Ferryd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryd",
        abstract: "Ferry coordinator: registers hypervisor hosts and serves the operator API.",
        version: APIServer.version)

    @Option(help: "Directory for the database (ferry.sqlite) and ferryd.endpoints.json.")
    var dataDir = "./ferry-data"

    @Option(help: "HOST:PORT the agents connect to (port 0: the kernel picks).")
    var agentsListen = "0.0.0.0:7100"

    @Option(help: "HOST:PORT of the HTTP API (port 0: the kernel picks).")
    var apiListen = "127.0.0.1:7070"

    @Option(help: "How often agents send a heartbeat, in milliseconds.")
    var heartbeatIntervalMs = 1000

    @Option(help: "Missed heartbeat intervals after which a host is unreachable.")
    var heartbeatMissLimit = 3

    @Option(
        help: ArgumentHelp(
            "How long an agent of an in-flight migration may stay unreachable before ferryd rolls it back or ends it, in milliseconds."
        ))
    var hostLossWindowMs = 60_000  // HostLossPolicy.defaultWindowSeconds

    @Option(help: "trace, debug, info, warning or error.")
    var logLevel = "info"

    func validate() throws {
        for (flag, value) in [("--agents-listen", agentsListen), ("--api-listen", apiListen)] {
            do {
                _ = try ListenAddress(parsing: value)
            } catch {
                throw ValidationError("\(flag): \(error)")
            }
        }
        guard (1...3_600_000).contains(heartbeatIntervalMs) else {
            throw ValidationError("--heartbeat-interval-ms must be from 1 to 3600000, got \(heartbeatIntervalMs)")
        }
        guard (1...1000).contains(heartbeatMissLimit) else {
            throw ValidationError("--heartbeat-miss-limit must be from 1 to 1000, got \(heartbeatMissLimit)")
        }
        guard (100...86_400_000).contains(hostLossWindowMs) else {
            throw ValidationError("--host-loss-window-ms must be from 100 to 86400000, got \(hostLossWindowMs)")
        }
        guard Self.logLevels[logLevel] != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, warning, error; got '\(logLevel)'")
        }
    }

    static let logLevels: [String: Logger.Level] = [
        "trace": .trace, "debug": .debug, "info": .info, "warning": .warning, "error": .error,
    ]

    func run() async throws {
        let level = Self.logLevels[logLevel] ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ferryd")

        try DataDirectory.prepare(dataDir)
        let databasePath = URL(fileURLWithPath: dataDir).appendingPathComponent("ferry.sqlite").path
        let store: SQLiteStore
        do {
            store = try SQLiteStore(path: databasePath)
        } catch {
            throw ValidationError("\(error)")
        }
        logger.info("store opened", metadata: ["path": "\(databasePath)"])

        let configuration = CoordinatorConfiguration(
            dataDirectory: dataDir,
            agentsListen: try ListenAddress(parsing: agentsListen),
            apiListen: try ListenAddress(parsing: apiListen),
            link: LinkSettings(
                coordinatorID:
                    "ferryd-\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)",
                heartbeatIntervalMs: UInt32(heartbeatIntervalMs), heartbeatMissLimit: UInt32(heartbeatMissLimit)),
            hostLossWindow: .milliseconds(hostLossWindowMs))
        let coordinator = Coordinator(configuration: configuration, store: store, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: coordinator)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("ferryd failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        logger.info("ferryd stopped")
    }
}
