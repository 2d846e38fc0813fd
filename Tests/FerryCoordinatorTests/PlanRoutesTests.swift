import FerryModel
import FerryStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import FerryCoordinator

@Suite("HTTP API: plans, migrations, events")
struct PlanRoutesTests {
    static func store() throws -> SQLiteStore {
        let store = try SQLiteStore.inMemory()
        for host in PlanCluster.hosts { try store.upsertHost(host) }
        return store
    }

    static func app(_ store: SQLiteStore) -> some ApplicationProtocol {
        Application(router: APIServer.router(store: store, logger: Logger(label: "test")))
    }

    static let good =
        "name: two\nmigrations:\n  - {vm: vm-1, source: host-a, destination: host-b}\n  - {vm: vm-3, source: host-a, destination: host-f, wave: 2}\n"
    static let bad =
        "name: bad\nmigrations:\n  - {vm: vm-404, source: host-a, destination: host-b}\n  - {vm: vm-3, source: host-a, destination: host-a}\n"

    struct Submitted: Decodable {
        var plan: Plan
        var migrations: [Migration]
    }

    struct Invalid: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
            var problems: [PlanProblem]
        }
        var error: Detail
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try FerryJSON.decoder(for: type).decode(type, from: Data(body.readableBytesView))
    }

    @Test func invalidPlanIs422WithEveryProblemAndStoresNothing() async throws {
        let store = try Self.store()
        try await Self.app(store).test(.router) { client in
            try await client.execute(
                uri: "/v1/plans?file=bad.yaml", method: .post, body: ByteBuffer(string: Self.bad)
            ) { response in
                #expect(response.status == .unprocessableContent)
                let body = try Self.decode(Invalid.self, response.body)
                #expect(body.error.code == "invalid_plan")
                #expect(body.error.message == "the plan has 2 problems")
                #expect(
                    body.error.problems.map(\.description) == [
                        "bad.yaml:3: migrations[0].vm: unknown VM 'vm-404': no host reports it",
                        "bad.yaml:4: migrations[1].destination: same host as the source ('host-a')",
                    ])
            }
        }
        #expect(try store.plans().isEmpty)
        #expect(try store.events(planID: nil, migrationID: nil, afterSeq: 0, limit: 10).isEmpty)
    }

    @Test func validateIsADryRun() async throws {
        let store = try Self.store()
        try await Self.app(store).test(.router) { client in
            try await client.execute(uri: "/v1/plans:validate", method: .post, body: ByteBuffer(string: Self.good)) {
                response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"valid\" : true"))
            }
        }
        #expect(try store.plans().isEmpty)
    }

    @Test func submitStoresThenListsShowsEventsAndCancels() async throws {
        let store = try Self.store()
        try await Self.app(store).test(.router) { client in
            let submitted = try await client.execute(
                uri: "/v1/plans?file=two.yaml", method: .post, body: ByteBuffer(string: Self.good)
            ) { response in
                #expect(response.status == .created)
                return try Self.decode(Submitted.self, response.body)
            }
            #expect(submitted.plan.name == "two")
            #expect(submitted.plan.fileName == "two.yaml")
            #expect(submitted.migrations.map(\.vmID) == ["vm-1", "vm-3"])
            #expect(submitted.migrations.allSatisfy { $0.phase == .pending })
            let id = submitted.plan.id

            // The same VM cannot be planned again while its migration is unfinished.
            try await client.execute(uri: "/v1/plans", method: .post, body: ByteBuffer(string: Self.good)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body).contains("is already migrating"))
            }
            try await client.execute(uri: "/v1/plans", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("\"status\" : \"running\""))
                #expect(text.contains("\"pending\" : 2"))
            }
            try await client.execute(uri: "/v1/plans/\(id)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"migrations\""))
            }
            try await client.execute(uri: "/v1/plans/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/migrations/\(id)-2", method: .get) { response in
                let m = try Self.decode(Migration.self, response.body)
                #expect(m.vmID == "vm-3")
                #expect(m.wave == 2)
            }
            try await client.execute(uri: "/v1/plans/\(id)/cancel", method: .post) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("\(id)-1"))
                #expect(text.contains("\"refused\" : [\n\n  ]") || text.contains("\"refused\" : []"))
            }
            try await client.execute(uri: "/v1/events?migration=\(id)-1", method: .get) { response in
                struct Events: Decodable { var events: [Event] }
                let events = try Self.decode(Events.self, response.body).events
                #expect(events.map(\.kind) == ["migration_created", "phase_changed"])
                #expect(events[1].attributes == ["from": "pending", "to": "cancelled"])
            }
            try await client.execute(uri: "/v1/events?limit=0", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
        #expect(try store.unfinishedMigrations().isEmpty)
        #expect(try store.migration(id: "\(try store.plans()[0].id)-1")?.phase == .cancelled)
    }
}
