import FerryWire
import Logging
import NIOCore

/// Runs one agent's control-link connection: reads bytes into a `FrameParser`, drives the
/// `AgentSession` state machine with them, and carries out its outputs (frames to send, registry
/// calls, close). Everything for one connection happens in one loop, in order.
struct AgentConnection {
    /// What the loop reacts to, from the socket reader, the hello timer and the registry.
    enum Event: Sendable {
        case bytes(ByteBuffer)
        case inputEnded
        case tick
        case evicted(EvictionReason)
        case outbound(WireMessage)
    }

    /// Lets the registry drop this connection by posting an event to its loop.
    struct Handle: EvictableConnection {
        let continuation: AsyncStream<Event>.Continuation
        func evict(_ reason: EvictionReason) { continuation.yield(.evicted(reason)) }
        func send(_ message: WireMessage) { continuation.yield(.outbound(message)) }
    }

    let id: ConnectionID
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    /// Shared with this socket's `ControlFrameHandler`: armed while the session is active.
    let gate: HeartbeatGate
    let registry: HostRegistry
    let settings: LinkSettings
    let clock: any CoordinatorClock
    let logger: Logger

    func run() async {
        let remoteAddress = channel.channel.remoteAddress.map(Self.hostPort) ?? "unknown"
        var logger = logger
        logger[metadataKey: "remote_address"] = "\(remoteAddress)"
        logger[metadataKey: "connection"] = "\(id)"
        logger.debug("agent connection accepted")
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        // One buffer in flight: the reader waits until the loop took the last one, so a peer that
        // floods us is held back by TCP (NIO's inbound backpressure) instead of filling memory.
        let (consumed, consumedContinuation) = AsyncStream.makeStream(of: Void.self)
        var armed = false
        var state = LoopState(
            session: AgentSession(settings: settings, now: clock.monotonicNow()), remoteAddress: remoteAddress,
            handle: Handle(continuation: continuation), logger: logger)
        do {
            try await channel.executeThenClose { inbound, outbound in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { [logger] in
                        var consumedIterator = consumed.makeAsyncIterator()
                        do {
                            for try await buffer in inbound {
                                continuation.yield(.bytes(buffer))
                                guard await consumedIterator.next() != nil else { break }
                            }
                        } catch {
                            logger.debug("agent connection read failed", metadata: ["error": "\(error)"])
                        }
                        continuation.yield(.inputEnded)
                    }
                    group.addTask { [helloTimeout = settings.helloTimeout] in
                        // Only the hello deadline needs a timer; an active host's liveness is the
                        // registry's sweep.
                        try? await Task.sleep(for: helloTimeout)
                        continuation.yield(.tick)
                    }
                    for await event in events {
                        await state.react(to: event, outbound: outbound, connection: self)
                        // Welcome is out: from here heartbeats are answered on the event loop. Once
                        // only: the registry disarms an evicted connection for good.
                        if !armed, case .active = state.session.state {
                            gate.arm()
                            armed = true
                        }
                        if case .bytes = event {
                            gate.consumed()
                            consumedContinuation.yield()
                        }
                        if state.session.isClosed { break }
                    }
                    gate.disarm()
                    if !state.session.isClosed {  // cancelled: ferryd is stopping
                        _ = state.session.handle(.evicted(.shuttingDown))
                    }
                    continuation.finish()
                    consumedContinuation.finish()
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("agent connection close failed", metadata: ["error": "\(error)"])
        }
        if let registration = state.registeredHost, case .closed(let reason) = state.session.state {
            await registry.connectionClosed(hostID: registration, connection: id, reason: reason)
        }
    }

    /// The loop's mutable part, kept in one place so `react` can be a mutating method.
    struct LoopState {
        var session: AgentSession
        var parser = FrameParser()
        let remoteAddress: String
        let handle: Handle
        var logger: Logger
        /// Set once the registry accepted the host, so closing can tell it.
        var registeredHost: String?

        mutating func react(
            to event: Event, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, connection: AgentConnection
        ) async {
            switch event {
            case .bytes(let buffer):
                parser.feed(buffer.readableBytesView)
                while !session.isClosed {
                    let input: AgentSession.Input
                    do {
                        guard let frame = try parser.next() else { break }
                        input = .message(try WireMessage(frame: frame))
                    } catch {
                        input = .badFrame(error)
                    }
                    if case .message(let message) = input {
                        logger.trace("frame received", metadata: ["type": "\(message.frameType.name)"])
                    }
                    await drive(input, outbound: outbound, connection: connection)
                }
            case .inputEnded:
                await drive(.peerClosed, outbound: outbound, connection: connection)
            case .tick:
                await drive(.tick(now: connection.clock.monotonicNow()), outbound: outbound, connection: connection)
            case .evicted(let reason):
                await drive(.evicted(reason), outbound: outbound, connection: connection)
            case .outbound(let message):
                guard case .active = session.state else { break }
                logger.debug("frame sent", metadata: ["type": "\(message.frameType.name)"])
                await send(message, outbound: outbound, clock: connection.clock)
            }
        }

        /// Feeds one input to the session and carries out what it asks, in order.
        private mutating func drive(
            _ input: AgentSession.Input, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
            connection: AgentConnection
        ) async {
            var pending = session.handle(input)[...]
            while let output = pending.popFirst() {
                switch output {
                case .send(let message):
                    await send(message, outbound: outbound, clock: connection.clock)
                case .register(let registration):
                    logger[metadataKey: "host"] = "\(registration.hostID)"
                    let decision = await connection.registry.register(
                        registration, connection: connection.id, remoteAddress: remoteAddress, handle: handle,
                        gate: connection.gate)
                    if decision == .accepted { registeredHost = registration.hostID }
                    pending.append(contentsOf: session.handle(.registered(decision)))
                case .applyInventory(let inventory, let wire):
                    guard let host = registeredHost else { break }
                    let recorded = await connection.registry.applyInventory(
                        inventory, wire: wire, hostID: host, connection: connection.id)
                    if !recorded { pending.append(contentsOf: session.handle(.evicted(.storeFailed("inventory")))) }
                case .recordHeartbeat(let heartbeat):
                    guard let host = registeredHost else { break }
                    await connection.registry.recordHeartbeat(
                        freeMemoryBytes: heartbeat.freeMemoryBytes, hostID: host, connection: connection.id)
                case .routeReport(let report):
                    if let host = registeredHost {
                        await connection.registry.noteActivity(hostID: host, connection: connection.id)
                        await connection.registry.route(report, from: host, connection: connection.id)
                    }
                case .close(let reason):
                    switch reason {
                    case .peerClosed, .evicted(.replaced), .evicted(.shuttingDown):
                        logger.info("agent connection closed", metadata: ["reason": "\(reason)"])
                    default:
                        logger.warning("agent connection closed", metadata: ["reason": "\(reason)"])
                    }
                }
            }
        }

        /// Best effort: a peer that is gone cannot receive its Error frame, and that is fine.
        private func send(
            _ message: WireMessage, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, clock: any CoordinatorClock
        ) async {
            var message = message
            if case .welcome(var welcome) = message {
                welcome.serverTimeUnixNs = clock.wallNow().unixNanoseconds
                message = .welcome(welcome)
            }
            do {
                try await outbound.write(ByteBuffer(bytes: try message.encoded()))
            } catch {
                logger.debug("send failed", metadata: ["type": "\(message.frameType.name)", "error": "\(error)"])
            }
        }
    }

    /// `IP:PORT` of a socket address (`[IPv6]:PORT`).
    static func hostPort(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
