import FerryWire
import Foundation
import Testing

/// An agent from the future (or the distant past) is refused with a clear Error frame naming both
/// version ranges, its connection is closed, and ferryd keeps serving the agents it can talk to.
@Suite("Protocol version negotiation (real ferryd)", .serialized)
struct VersionNegotiationTests {
    static func hello(lowest: UInt32, highest: UInt32) throws -> [UInt8] {
        var hello = Ferry_V1_Hello()
        hello.protocolVersion = highest
        hello.minProtocolVersion = lowest
        hello.hostID = "host-from-elsewhere"
        hello.agentVersion = "9.9.9"
        hello.bootID = "boot-1"
        return try WireMessage.hello(hello).frame().encoded()
    }

    @Test(.timeLimit(.minutes(2)))
    func incompatibleAgentGetsAnErrorAndOthersStayServed() async throws {
        let cluster = try TestCluster()
        try await cluster.startFerryd()
        try cluster.startAgent("host-a")
        let ready = try await eventually(timeout: .seconds(30)) {
            try await cluster.status(of: "host-a") == .ready
        }
        #expect(ready, "host-a ready\n\(cluster.logs())")
        let agentsListen = try #require(cluster.endpoints?.agentsListen)

        for (lowest, highest) in [(UInt32(7), UInt32(9)), (2, 5)] {
            let reply = try #require(
                try RawPeer.exchange(with: agentsListen, bytes: try Self.hello(lowest: lowest, highest: highest)),
                "ferryd closes the connection of an incompatible agent")
            var parser = FrameParser()
            parser.feed(reply)
            let frame = try #require(try parser.next(), "an Error frame before the close")
            guard case .error(let error) = try WireMessage(frame: frame) else {
                Issue.record("expected an Error frame, got \(frame.type)")
                continue
            }
            #expect(error.code == .incompatibleVersion)
            #expect(error.message.contains("\(lowest)"), "names the agent's range: \(error.message)")
            #expect(error.message.contains("1"), "names ferryd's range: \(error.message)")
        }
        // Refused agents are not registered; the real one is still served.
        #expect(try await cluster.hosts()?.map(\.id) == ["host-a"])
        #expect(try await cluster.status(of: "host-a") == .ready)
    }
}
