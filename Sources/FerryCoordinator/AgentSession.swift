import FerryWire

/// The coordinator's side of one agent connection, as a pure state machine: inputs in, outputs
/// out, no I/O and no clock reads. `AgentConnection` runs it on a socket; tests run it directly.
///
///     awaitingHello --Hello ok--> registering --accepted--> active
///          |                           |                      |
///          +------- any error, timeout, eviction, peer close -+--> closed
///
/// Registration is a separate step because only the `HostRegistry` knows whether another live
/// connection holds the host id; the connection asks it and feeds the decision back at once.
public struct AgentSession: Sendable {
    public enum State: Sendable, Equatable {
        /// Connected; the Hello must arrive before `deadline` (monotonic time).
        case awaitingHello(deadline: Duration)
        /// Hello accepted by the session; waiting for the registry's decision.
        case registering(Registration)
        /// Welcome sent; heartbeats and inventories flow.
        case active(Registration)
        case closed(CloseReason)
    }

    /// Who the agent says it is, from its Hello, with the negotiated protocol version.
    public struct Registration: Sendable, Equatable {
        public var hostID: String
        public var bootID: String
        public var agentVersion: String
        public var protocolVersion: UInt32

        public init(hostID: String, bootID: String, agentVersion: String, protocolVersion: UInt32) {
            self.hostID = hostID
            self.bootID = bootID
            self.agentVersion = agentVersion
            self.protocolVersion = protocolVersion
        }
    }

    public enum RegistrationDecision: Sendable, Equatable {
        case accepted
        /// Refused, with the Error frame to send (DUPLICATE_HOST, INTERNAL, ...).
        case rejected(Ferry_V1_ErrorCode, String)
    }

    public enum Input: Sendable, Equatable {
        /// A decoded frame from the agent.
        case message(WireMessage)
        /// Bytes that are not a valid frame or message.
        case badFrame(WireError)
        /// The registry's answer to a `register` output.
        case registered(RegistrationDecision)
        /// Time passed (monotonic reading).
        case tick(now: Duration)
        /// The registry dropped this connection.
        case evicted(EvictionReason)
        /// The agent closed the connection (or it broke).
        case peerClosed
    }

    public enum Output: Sendable, Equatable {
        case send(WireMessage)
        /// Ask the registry to register this host; answer with `.registered`.
        case register(Registration)
        /// The converted inventory for the store, and the message as sent (launch args and device
        /// details the destination of a migration needs).
        case applyInventory(HostInventory, wire: Ferry_V1_Inventory)
        case recordHeartbeat(Ferry_V1_Heartbeat)
        /// A command result, progress or event about a migration, for its driver.
        case routeReport(MigrationReport)
        /// Close the connection, after sending any `.send` before it.
        case close(CloseReason)
    }

    public private(set) var state: State
    public let settings: LinkSettings

    /// A session for a connection accepted at `now`.
    public init(settings: LinkSettings, now: Duration) {
        self.settings = settings
        self.state = .awaitingHello(deadline: now + settings.helloTimeout)
    }

    public var isClosed: Bool {
        if case .closed = state { true } else { false }
    }

    /// The host this connection speaks for, once its Hello was accepted.
    public var registration: Registration? {
        switch state {
        case .registering(let r), .active(let r): r
        case .awaitingHello, .closed: nil
        }
    }

    public mutating func handle(_ input: Input) -> [Output] {
        switch (state, input) {
        case (.closed, _):
            return []
        case (_, .peerClosed):
            return close(.peerClosed)
        case (_, .badFrame(let error)):
            return reject(error.errorCode, error.description, reason: .badFrame(error))
        case (_, .evicted(let reason)):
            let farewell: [Output] = reason.errorToSend.map { [.send(.error($0.code, $0.message))] } ?? []
            return farewell + close(.evicted(reason))

        case (.awaitingHello, .message(.hello(let hello))):
            return acceptHello(hello)
        case (.awaitingHello, .message(let other)):
            return reject(.unexpectedMessage, "expected hello as the first frame, got \(other.frameType.name)")
        case (.awaitingHello(let deadline), .tick(let now)):
            guard now >= deadline else { return [] }
            return reject(.timeout, "no hello within \(settings.helloTimeout)", reason: .helloTimeout)
        case (.awaitingHello, .registered):
            return []  // nothing was asked; a stray answer changes nothing

        case (.registering(let registration), .registered(.accepted)):
            state = .active(registration)
            return [.send(.welcome(welcome(version: registration.protocolVersion)))]
        case (.registering, .registered(.rejected(let code, let message))):
            return reject(code, message)
        case (.registering, .message(let message)):
            // The connection feeds the decision before reading on, so this is a peer that did not
            // wait for its Welcome.
            return reject(.unexpectedMessage, "\(message.frameType.name) sent before welcome")
        case (.registering, .tick):
            return []

        case (.active, .message(let message)):
            return handleActive(message)
        case (.active, .tick), (.active, .registered):
            return []  // liveness is the registry's sweep; registration is over
        }
    }

    private mutating func acceptHello(_ hello: Ferry_V1_Hello) -> [Output] {
        guard !hello.hostID.isEmpty else { return reject(.badMessage, "hello has an empty host_id") }
        let peer = ProtocolVersionRange(lowest: hello.minProtocolVersion, highest: hello.protocolVersion)
        guard let version = ProtocolVersionRange.negotiate(peer: peer, ours: settings.protocolVersions) else {
            return reject(
                .incompatibleVersion, "agent speaks \(peer), ferryd speaks \(settings.protocolVersions)")
        }
        let registration = Registration(
            hostID: hello.hostID, bootID: hello.bootID, agentVersion: hello.agentVersion, protocolVersion: version)
        state = .registering(registration)
        return [.register(registration)]
    }

    private mutating func handleActive(_ message: WireMessage) -> [Output] {
        guard case .active(let registration) = state else { return [] }
        switch message {
        case .heartbeat(let heartbeat):
            return [.recordHeartbeat(heartbeat), .send(.heartbeat(heartbeat))]
        case .inventory(let inventory):
            guard inventory.hostID.isEmpty || inventory.hostID == registration.hostID else {
                return reject(
                    .badMessage,
                    "inventory for host '\(inventory.hostID)' on the connection of '\(registration.hostID)'")
            }
            do {
                return [.applyInventory(try HostInventory(wire: inventory), wire: inventory)]
            } catch {
                return reject(.badMessage, "inventory: \(error)")
            }
        case .error(let error):
            return close(.peerError(error.code, error.message))
        case .commandResult, .progress, .event:
            return MigrationReport(message).map { [.routeReport($0)] } ?? []
        case .hello:
            return reject(.unexpectedMessage, "second hello on one connection")
        case .welcome, .command, .streamHello, .streamWelcome, .pageBatch, .deviceChunk, .endOfRound, .roundAck,
            .resumeConfirm, .vcpuState:
            return reject(.unexpectedMessage, "\(message.frameType.name) is not sent by an agent on the control link")
        }
    }

    private func welcome(version: UInt32) -> Ferry_V1_Welcome {
        var welcome = Ferry_V1_Welcome()
        welcome.protocolVersion = version
        welcome.coordinatorID = settings.coordinatorID
        welcome.heartbeatIntervalMs = settings.heartbeatIntervalMs
        welcome.heartbeatMissLimit = settings.heartbeatMissLimit
        // server_time_unix_ns is wall time, which this pure machine does not read: the connection
        // stamps it when it sends the frame.
        return welcome
    }

    /// Sends an Error frame and closes.
    private mutating func reject(_ code: Ferry_V1_ErrorCode, _ message: String, reason: CloseReason? = nil) -> [Output]
    {
        [.send(.error(code, message))] + close(reason ?? .rejected(code, message))
    }

    private mutating func close(_ reason: CloseReason) -> [Output] {
        state = .closed(reason)
        return [.close(reason)]
    }
}
