import FerryStore
import Foundation
import Logging
import Testing

@testable import FerryCoordinator

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The whole service: both listeners on kernel-chosen ports, the endpoints file, an agent
/// registering and the API showing it.
@Suite struct CoordinatorTests {
    @Test("runs on port 0, writes the endpoints file, serves agents and the API, stops on cancel")
    func endToEnd() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ferry-coord-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore.inMemory()
        try store.upsertHost(makeHost("old-host", status: .ready))
        let (endpointsStream, endpointsContinuation) = AsyncStream.makeStream(of: EndpointsFile.self)
        let coordinator = Coordinator(
            configuration: CoordinatorConfiguration(
                dataDirectory: directory.path, agentsListen: ListenAddress(host: "127.0.0.1", port: 0),
                apiListen: ListenAddress(host: "127.0.0.1", port: 0), link: LinkSettings(coordinatorID: "e2e")),
            store: store, logger: Logger(label: "test"), onEndpoints: { endpointsContinuation.yield($0) })
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }

        let endpoints = try await withTimeout(.seconds(10), "endpoints") {
            var iterator = endpointsStream.makeAsyncIterator()
            return await iterator.next()!
        }
        let written = try JSONDecoder().decode(
            EndpointsFile.self, from: Data(contentsOf: directory.appendingPathComponent("ferryd.endpoints.json")))
        #expect(written == endpoints)
        #expect(written.pid == ProcessInfo.processInfo.processIdentifier)
        #expect(!endpoints.agentsListen.hasSuffix(":0") && !endpoints.apiListen.hasSuffix(":0"))
        #expect(try store.host(id: "old-host")?.status == .unreachable)

        try await withTimeout(.seconds(20), "agent and API") {
            try await TestAgentClient.connect(to: endpoints.agentsListen) { reader, writer in
                try await writer.send(Agent.hello("host-e2e"))
                guard case .welcome = try await reader.next() else {
                    Issue.record("expected welcome")
                    return
                }
                try await writer.send(Agent.inventory("host-e2e"))
                try await writer.send(Agent.heartbeat(1))
                _ = try await reader.next()
                let url = URL(string: "http://\(endpoints.apiListen)/v1/hosts/host-e2e")!
                let (data, response) = try await URLSession.shared.data(from: url)
                #expect((response as? HTTPURLResponse)?.statusCode == 200)
                let text = String(decoding: data, as: UTF8.self)
                #expect(text.contains("\"status\" : \"ready\""))
                #expect(text.contains("\"id\" : \"sim0\""))
            }
        }
        running.cancel()
        try? await withTimeout(.seconds(10), "coordinator stop") { try await running.value }
    }
}
