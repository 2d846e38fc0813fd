import FerryCLI
import FerryCoordinator
import FerryStore
import Foundation
import Hummingbird
import Logging

/// ferryd's real HTTP API (APIServer: the same routes, the same SQLite store class) in this
/// process on 127.0.0.1 with a kernel-picked port, over a fresh database in a temporary directory.
/// No migration supervisor runs, so submitted plans stay pending: only the API path is measured.
final class BenchServer {
    let directory: URL
    let store: SQLiteStore
    let client: APIClient
    private let task: Task<Void, any Error>

    static func start(name: String) async throws -> BenchServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ferry-bench-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory.appendingPathComponent("ferry.sqlite").path)
        var logger = Logger(label: "ferry-bench")
        logger.logLevel = .critical  // stopping the server logs its cancellation as errors
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let app = APIServer.application(
            address: try ListenAddress(parsing: "127.0.0.1:0"), store: store, logger: logger
        ) { address in continuation.yield(address) }
        let task = Task { try await app.runService() }
        var iterator = stream.makeAsyncIterator()
        guard let address = await iterator.next() else { throw BenchError("the API server did not start") }
        guard let url = URL(string: "http://\(address)") else { throw BenchError("bad address \(address)") }
        return BenchServer(directory: directory, store: store, client: APIClient(server: url, timeout: 60), task: task)
    }

    private init(directory: URL, store: SQLiteStore, client: APIClient, task: Task<Void, any Error>) {
        self.directory = directory
        self.store = store
        self.client = client
        self.task = task
    }

    /// Stops the server and removes the database.
    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(at: directory)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
