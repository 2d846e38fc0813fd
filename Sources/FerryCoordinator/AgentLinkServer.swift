import Logging
import NIOCore
import NIOPosix

/// The agents' side door: a TCP listener that runs an `AgentConnection` per accepted socket. A
/// broken connection ends alone; the listener and the other connections carry on.
public final class AgentLinkServer: Sendable {
    private let serverChannel: NIOAsyncChannel<AcceptedAgent, Never>
    private let registry: HostRegistry
    private let settings: LinkSettings
    private let clock: any CoordinatorClock
    private let logger: Logger

    /// The bound address, `IP:PORT` with the port the kernel chose when asked for 0.
    public let localAddress: String

    /// Binds the listener. Connections are served once `run()` is called.
    public static func bind(
        _ address: ListenAddress, registry: HostRegistry, settings: LinkSettings, clock: any CoordinatorClock,
        logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(CoordinatorError) -> AgentLinkServer {
        let channel: NIOAsyncChannel<AcceptedAgent, Never>
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: address.host, port: address.port) { child in
                    child.eventLoop.makeCompletedFuture {
                        // Heartbeats are answered on the event loop (ControlFrameHandler); the
                        // rest of the link goes on to the connection's task.
                        let gate = HeartbeatGate(now: clock.monotonicNow())
                        try child.pipeline.syncOperations.addHandler(ControlFrameHandler(gate: gate, clock: clock))
                        return AcceptedAgent(
                            channel: try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child),
                            gate: gate)
                    }
                }
        } catch {
            throw .bindFailed(address: "\(address)", reason: "\(error)")
        }
        let local = channel.channel.localAddress.map(AgentConnection.hostPort) ?? "\(address)"
        return AgentLinkServer(
            serverChannel: channel, localAddress: local, registry: registry, settings: settings, clock: clock,
            logger: logger)
    }

    private init(
        serverChannel: NIOAsyncChannel<AcceptedAgent, Never>, localAddress: String,
        registry: HostRegistry, settings: LinkSettings, clock: any CoordinatorClock, logger: Logger
    ) {
        self.serverChannel = serverChannel
        self.localAddress = localAddress
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    /// Accepts and serves connections until the task is cancelled or the listener closes; then
    /// closes the listener and every connection.
    public func run() async {
        do {
            try await serverChannel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    var nextID: UInt64 = 1
                    for try await accepted in inbound {
                        let agent = AgentConnection(
                            id: ConnectionID(nextID), channel: accepted.channel, gate: accepted.gate,
                            registry: registry, settings: settings, clock: clock, logger: logger)
                        nextID += 1
                        group.addTask { await agent.run() }
                    }
                }
            }
        } catch is CancellationError {
        } catch {
            logger.error("agent listener failed", metadata: ["error": "\(error)"])
        }
    }
}

/// An accepted agent socket: its async channel, behind the `ControlFrameHandler` that shares
/// `gate` with the connection.
struct AcceptedAgent: Sendable {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let gate: HeartbeatGate
}
