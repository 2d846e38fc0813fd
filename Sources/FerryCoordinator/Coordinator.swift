import FerryModel
import FerryStore
import Foundation
import Logging
import ServiceLifecycle

/// Where and how ferryd serves.
public struct CoordinatorConfiguration: Sendable {
    public var dataDirectory: String
    public var agentsListen: ListenAddress
    public var apiListen: ListenAddress
    public var link: LinkSettings
    public var schedulerLimits: SchedulerLimits
    /// How long an agent of an in-flight migration may stay unreachable before ferryd ends it.
    public var hostLossWindow: Duration

    public init(
        dataDirectory: String, agentsListen: ListenAddress, apiListen: ListenAddress, link: LinkSettings,
        schedulerLimits: SchedulerLimits = .defaults,
        hostLossWindow: Duration = .seconds(HostLossPolicy.defaultWindowSeconds)
    ) {
        self.dataDirectory = dataDirectory
        self.agentsListen = agentsListen
        self.apiListen = apiListen
        self.link = link
        self.schedulerLimits = schedulerLimits
        self.hostLossWindow = hostLossWindow
    }
}

/// ferryd as one service: the host registry, the agent link server and the HTTP API, run under
/// ServiceLifecycle. On graceful shutdown the listeners close and every agent connection ends.
public final class Coordinator: Service {
    public let configuration: CoordinatorConfiguration
    public let registry: HostRegistry
    /// Runs migrations when the store keeps plans (always in ferryd; not in host-only tests).
    public let migrations: MigrationSupervisor?
    private let store: any HostStore
    private let clock: any CoordinatorClock
    private let logger: Logger
    private let onEndpoints: @Sendable (EndpointsFile) -> Void

    /// `onEndpoints` is told where ferryd listens once both sockets are bound (after the file is written).
    public init(
        configuration: CoordinatorConfiguration, store: any HostStore,
        clock: any CoordinatorClock = SystemCoordinatorClock(), logger: Logger,
        onEndpoints: @escaping @Sendable (EndpointsFile) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.onEndpoints = onEndpoints
        self.registry = HostRegistry(store: store, clock: clock, settings: configuration.link, logger: logger)
        if let plans = store as? any PlanStore & MigrationRuntimeStore {
            self.migrations = MigrationSupervisor(
                context: DriverContext(
                    store: plans, link: registry, clock: clock, logger: logger,
                    hostLossWindow: configuration.hostLossWindow),
                limits: configuration.schedulerLimits)
        } else {
            self.migrations = nil
        }
    }

    public func run() async throws {
        let changed: Int
        do {
            changed = try await registry.markAllUnreachable()
        } catch {
            throw CoordinatorError.store(error)
        }
        logger.info("stored hosts marked unreachable until their agents reconnect", metadata: ["hosts": "\(changed)"])

        let agents = try await AgentLinkServer.bind(
            configuration.agentsListen, registry: registry, settings: configuration.link, clock: clock,
            logger: logger)
        logger.info("listening for agents", metadata: ["address": "\(agents.localAddress)"])

        if let migrations { await registry.setReportSink(migrations) }
        let api = APIServer.application(
            address: configuration.apiListen, store: store, logger: logger, migrations: migrations
        ) {
            [configuration, logger, onEndpoints] apiAddress in
            logger.info("API listening", metadata: ["address": "\(apiAddress)"])
            let endpoints = EndpointsFile(
                agentsListen: agents.localAddress, apiListen: apiAddress, pid: ProcessInfo.processInfo.processIdentifier
            )
            do {
                try endpoints.write(inDirectory: configuration.dataDirectory)
            } catch {
                logger.error("cannot write endpoints file", metadata: ["error": "\(error)"])
            }
            onEndpoints(endpoints)
        }

        // Each part stops by itself on graceful shutdown (the API drains its requests first). A
        // part that stops otherwise throws, which cancels the others and fails the service.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Cancelling the listener's task ends it and every connection it serves.
                await cancelWhenGracefulShutdown { await agents.run() }
                try Self.expectShutdown("agent listener")
            }
            group.addTask { [registry] in
                await cancelWhenGracefulShutdown { await registry.runSweeps() }
                try Self.expectShutdown("liveness sweep")
            }
            if let migrations {
                group.addTask {
                    await cancelWhenGracefulShutdown { await migrations.run() }
                    try Self.expectShutdown("migration supervisor")
                }
            }
            group.addTask {
                try await api.run()
                try Self.expectShutdown("API server")
            }
            try await group.waitForAll()
        }
        logger.info("coordinator stopped")
    }

    /// A part of the coordinator returned: fine during shutdown, a failure otherwise.
    private static func expectShutdown(_ part: String) throws(CoordinatorError) {
        guard Task.isShuttingDownGracefully || Task.isCancelled else { throw .stopped(part: part) }
    }
}
