import FerryWire
import Testing

@testable import FerryCoordinator

/// The session machine over every (state, input kind) pair.
@Suite struct AgentSessionTests {
    static let settings = LinkSettings(coordinatorID: "ferryd-test", heartbeatIntervalMs: 250, heartbeatMissLimit: 4)
    static let start = Duration.seconds(100)
    static let registration = AgentSession.Registration(
        hostID: "host-a", bootID: "boot-1", agentVersion: "0.1.0", protocolVersion: 1)

    static func hello(host: String = "host-a", boot: String = "boot-1", min: UInt32 = 1, max: UInt32 = 1) -> WireMessage
    {
        var hello = Ferry_V1_Hello()
        hello.protocolVersion = max
        hello.minProtocolVersion = min
        hello.hostID = host
        hello.agentVersion = "0.1.0"
        hello.bootID = boot
        return .hello(hello)
    }

    static func heartbeat(_ seq: UInt64) -> Ferry_V1_Heartbeat {
        var hb = Ferry_V1_Heartbeat()
        hb.seq = seq
        hb.freeMemoryBytes = 1 << 30
        return hb
    }

    enum Start: CaseIterable { case awaitingHello, registering, active, closed }

    static func session(in state: Start) -> AgentSession {
        var session = AgentSession(settings: settings, now: start)
        switch state {
        case .awaitingHello: break
        case .registering: _ = session.handle(.message(hello()))
        case .active:
            _ = session.handle(.message(hello()))
            _ = session.handle(.registered(.accepted))
        case .closed: _ = session.handle(.peerClosed)
        }
        return session
    }

    static func isError(_ outputs: [AgentSession.Output], _ code: Ferry_V1_ErrorCode) -> Bool {
        guard outputs.count == 2, case .send(.error(let error)) = outputs[0], case .close = outputs[1] else {
            return false
        }
        return error.code == code
    }

    // MARK: awaitingHello

    @Test("awaitingHello + hello: asks the registry to register the negotiated host")
    func helloOK() {
        var session = Self.session(in: .awaitingHello)
        #expect(session.handle(.message(Self.hello())) == [.register(Self.registration)])
        #expect(session.state == .registering(Self.registration))
    }

    @Test("awaitingHello + hello with a wider range: picks the highest common version")
    func helloWiderRange() {
        var session = Self.session(in: .awaitingHello)
        #expect(session.handle(.message(Self.hello(min: 1, max: 5))) == [.register(Self.registration)])
    }

    @Test("awaitingHello + hello with no common version: INCOMPATIBLE_VERSION naming both ranges")
    func helloIncompatible() throws {
        var session = Self.session(in: .awaitingHello)
        let outputs = session.handle(.message(Self.hello(min: 2, max: 3)))
        #expect(Self.isError(outputs, .incompatibleVersion))
        guard case .send(.error(let error)) = outputs.first else { return }
        #expect(error.message == "agent speaks 2..3, ferryd speaks 1..1")
        #expect(session.isClosed)
    }

    @Test("awaitingHello + hello with empty host id: BAD_MESSAGE")
    func helloEmptyHost() {
        var session = Self.session(in: .awaitingHello)
        #expect(Self.isError(session.handle(.message(Self.hello(host: ""))), .badMessage))
        #expect(session.isClosed)
    }

    @Test(
        "awaitingHello + any other first frame: UNEXPECTED_MESSAGE",
        arguments: [
            WireMessage.heartbeat(heartbeat(1)), .inventory(Ferry_V1_Inventory()), .welcome(Ferry_V1_Welcome()),
        ])
    func wrongFirstFrame(message: WireMessage) {
        var session = Self.session(in: .awaitingHello)
        #expect(Self.isError(session.handle(.message(message)), .unexpectedMessage))
        #expect(session.isClosed)
    }

    @Test("awaitingHello + tick: nothing before the deadline, TIMEOUT and close at it")
    func helloTimeout() {
        var session = Self.session(in: .awaitingHello)
        #expect(session.handle(.tick(now: Self.start + .seconds(4))) == [])
        #expect(!session.isClosed)
        #expect(Self.isError(session.handle(.tick(now: Self.start + .seconds(5))), .timeout))
        #expect(session.state == .closed(.helloTimeout))
    }

    @Test("awaitingHello + a registry answer nobody asked for: ignored")
    func strayDecision() {
        var session = Self.session(in: .awaitingHello)
        #expect(session.handle(.registered(.accepted)) == [])
        #expect(session.state == .awaitingHello(deadline: Self.start + .seconds(5)))
    }

    // MARK: registering

    @Test("registering + accepted: Welcome with the negotiated version and heartbeat settings")
    func accepted() {
        var session = Self.session(in: .registering)
        var welcome = Ferry_V1_Welcome()
        welcome.protocolVersion = 1
        welcome.coordinatorID = "ferryd-test"
        welcome.heartbeatIntervalMs = 250
        welcome.heartbeatMissLimit = 4
        #expect(session.handle(.registered(.accepted)) == [.send(.welcome(welcome))])
        #expect(session.state == .active(Self.registration))
    }

    @Test("registering + rejected (duplicate host): the registry's Error, then close")
    func duplicateHost() {
        var session = Self.session(in: .registering)
        let outputs = session.handle(.registered(.rejected(.duplicateHost, "host 'host-a' is already connected")))
        #expect(
            outputs == [
                .send(.error(.duplicateHost, "host 'host-a' is already connected")),
                .close(.rejected(.duplicateHost, "host 'host-a' is already connected")),
            ])
    }

    @Test("registering + a frame before Welcome: UNEXPECTED_MESSAGE")
    func frameWhileRegistering() {
        var session = Self.session(in: .registering)
        #expect(Self.isError(session.handle(.message(.heartbeat(Self.heartbeat(1)))), .unexpectedMessage))
    }

    @Test("registering + tick: the hello deadline no longer applies")
    func tickWhileRegistering() {
        var session = Self.session(in: .registering)
        #expect(session.handle(.tick(now: Self.start + .seconds(60))) == [])
        #expect(!session.isClosed)
    }

    // MARK: active

    @Test("active + heartbeat: recorded and echoed back unchanged")
    func heartbeatEcho() {
        var session = Self.session(in: .active)
        let hb = Self.heartbeat(42)
        #expect(session.handle(.message(.heartbeat(hb))) == [.recordHeartbeat(hb), .send(.heartbeat(hb))])
    }

    @Test("active + inventory: converted and applied")
    func inventoryUpdate() throws {
        var session = Self.session(in: .active)
        var inventory = Ferry_V1_Inventory()
        inventory.hostID = "host-a"
        inventory.cpuCount = 16
        inventory.dataAddress = "10.0.0.1:7101"
        let outputs = session.handle(.message(.inventory(inventory)))
        #expect(outputs == [.applyInventory(try HostInventory(wire: inventory), wire: inventory)])
        // An inventory without host_id is taken as the connection's host.
        inventory.hostID = ""
        #expect(session.handle(.message(.inventory(inventory))).count == 1)
        #expect(!session.isClosed)
    }

    @Test("active + inventory for another host: BAD_MESSAGE")
    func inventoryWrongHost() {
        var session = Self.session(in: .active)
        var inventory = Ferry_V1_Inventory()
        inventory.hostID = "host-b"
        #expect(Self.isError(session.handle(.message(.inventory(inventory))), .badMessage))
    }

    @Test("active + inventory with an UNSPECIFIED device backend: BAD_MESSAGE")
    func inventoryInvalid() {
        var session = Self.session(in: .active)
        var inventory = Ferry_V1_Inventory()
        var device = Ferry_V1_Device()
        device.id = "sim0"
        inventory.devices = [device]
        let outputs = session.handle(.message(.inventory(inventory)))
        #expect(Self.isError(outputs, .badMessage))
        guard case .send(.error(let error)) = outputs.first else { return }
        #expect(error.message.contains("devices[0].backend"))
    }

    @Test("active + second hello: UNEXPECTED_MESSAGE")
    func secondHello() {
        var session = Self.session(in: .active)
        #expect(Self.isError(session.handle(.message(Self.hello())), .unexpectedMessage))
    }

    @Test(
        "active + a ferryd-to-agent or data-channel message: UNEXPECTED_MESSAGE",
        arguments: [
            WireMessage.welcome(Ferry_V1_Welcome()), .command(Ferry_V1_Command()), .streamHello(Ferry_V1_StreamHello()),
            .pageBatch(Ferry_V1_PageBatch(), payload: [1]), .resumeConfirm(Ferry_V1_ResumeConfirm()),
        ])
    func wrongDirection(message: WireMessage) {
        var session = Self.session(in: .active)
        #expect(Self.isError(session.handle(.message(message)), .unexpectedMessage))
    }

    @Test(
        "active + progress, event, command result: routed to the migration, connection kept",
        arguments: [
            WireMessage.progress(Ferry_V1_Progress()), .event(Ferry_V1_Event()),
            .commandResult(Ferry_V1_CommandResult()),
        ])
    func unhandled(message: WireMessage) {
        var session = Self.session(in: .active)
        #expect(session.handle(.message(message)) == [.routeReport(MigrationReport(message)!)])
        #expect(!session.isClosed)
    }

    @Test("active + Error from the agent: close without answering")
    func agentError() {
        var session = Self.session(in: .active)
        #expect(session.handle(.message(.error(.internal, "bye"))) == [.close(.peerError(.internal, "bye"))])
    }

    @Test("active + tick and stray registry answers: nothing (liveness is the registry's sweep)")
    func activeTick() {
        var session = Self.session(in: .active)
        #expect(session.handle(.tick(now: Self.start + .seconds(3600))) == [])
        #expect(session.handle(.registered(.rejected(.duplicateHost, "late"))) == [])
        #expect(session.state == .active(Self.registration))
    }

    // MARK: inputs valid in every open state

    @Test(
        "bad frame in any open state: BAD_FRAME error and close",
        arguments: [Start.awaitingHello, .registering, .active])
    func badFrame(state: Start) {
        var session = Self.session(in: state)
        let error = WireError.badMagic(0x1234)
        #expect(
            session.handle(.badFrame(error)) == [.send(.error(.badFrame, error.description)), .close(.badFrame(error))])
    }

    @Test(
        "undecodable message in any open state: BAD_MESSAGE", arguments: [Start.awaitingHello, .registering, .active])
    func badMessage(state: Start) {
        var session = Self.session(in: state)
        #expect(Self.isError(session.handle(.badFrame(.badMessage(.hello, reason: "truncated"))), .badMessage))
    }

    @Test("peer close in any open state: close, nothing sent", arguments: [Start.awaitingHello, .registering, .active])
    func peerClosed(state: Start) {
        var session = Self.session(in: state)
        #expect(session.handle(.peerClosed) == [.close(.peerClosed)])
        #expect(session.state == .closed(.peerClosed))
    }

    @Test("eviction: silent close when replaced or silent, an Error when the agent should know")
    func eviction() {
        var replaced = Self.session(in: .active)
        #expect(replaced.handle(.evicted(.replaced)) == [.close(.evicted(.replaced))])
        var silent = Self.session(in: .active)
        #expect(silent.handle(.evicted(.silent(for: .seconds(2)))) == [.close(.evicted(.silent(for: .seconds(2))))])
        var storeFailed = Self.session(in: .registering)
        #expect(Self.isError(storeFailed.handle(.evicted(.storeFailed("inventory"))), .internal))
        var stopping = Self.session(in: .awaitingHello)
        #expect(Self.isError(stopping.handle(.evicted(.shuttingDown)), .aborted))
    }

    @Test(
        "closed: every input is ignored",
        arguments: [
            AgentSession.Input.message(hello()), .message(.heartbeat(heartbeat(1))), .badFrame(.badMagic(0)),
            .registered(.accepted), .tick(now: .seconds(1000)), .evicted(.replaced), .peerClosed,
        ])
    func closedIgnoresAll(input: AgentSession.Input) {
        var session = Self.session(in: .closed)
        #expect(session.handle(input) == [])
        #expect(session.state == .closed(.peerClosed))
    }

    @Test("registration is known only between hello and close")
    func registrationVisibility() {
        #expect(Self.session(in: .awaitingHello).registration == nil)
        #expect(Self.session(in: .registering).registration == Self.registration)
        #expect(Self.session(in: .active).registration == Self.registration)
        #expect(Self.session(in: .closed).registration == nil)
    }
}
