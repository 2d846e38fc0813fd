import FerryModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import FerryCoordinator

@Suite struct APIServerTests {
    static let hosts = [
        makeHost("host-b", status: .unreachable),
        makeHost("host-a", status: .ready),
    ]

    static func app(_ store: InMemoryHostStore = InMemoryHostStore(hosts: hosts)) -> some ApplicationProtocol {
        Application(router: APIServer.router(store: store, logger: Logger(label: "test")))
    }

    struct HostList: Decodable, Equatable {
        var hosts: [HypervisorHost]
    }

    struct ErrorBody: Decodable, Equatable {
        struct Detail: Decodable, Equatable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try FerryJSON.decoder(for: type).decode(type, from: Data(body.readableBytesView))
    }

    @Test("GET /v1/hosts lists hosts ordered by id, in FerryJSON", arguments: [TestingSetup.router, .live])
    func hosts(mode: TestingSetup) async throws {
        try await Self.app().test(mode) { client in
            try await client.execute(uri: "/v1/hosts", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let list = try Self.decode(HostList.self, response.body)
                #expect(list.hosts.map(\.id) == ["host-a", "host-b"])
                #expect(list.hosts == Self.hosts.sorted { $0.id < $1.id })
                let text = String(buffer: response.body)
                #expect(text.contains("\"status_changed_at\" : \"2023-11-14T22:13:20Z\""))
                #expect(text.contains("\"control_address\""))
            }
        }
    }

    @Test("GET /v1/hosts on an empty store is an empty list")
    func emptyHosts() async throws {
        try await Self.app(InMemoryHostStore()).test(.router) { client in
            try await client.execute(uri: "/v1/hosts", method: .get) { response in
                let list = try Self.decode(HostList.self, response.body)
                #expect(list == HostList(hosts: []))
            }
        }
    }

    @Test("GET /v1/hosts/{id} returns the host, or 404 not_found naming it")
    func hostByID() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/v1/hosts/host-b", method: .get) { response in
                #expect(response.status == .ok)
                let host = try Self.decode(HypervisorHost.self, response.body)
                #expect(host == Self.hosts[0])
            }
            try await client.execute(uri: "/v1/hosts/nope", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try Self.decode(ErrorBody.self, response.body)
                #expect(body == ErrorBody(error: .init(code: "not_found", message: "no host 'nope' is known")))
            }
        }
    }

    @Test("GET /v1/version reports the version and protocol range")
    func version() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/v1/version", method: .get) { response in
                struct Version: Decodable, Equatable {
                    var version: String
                    var protocolVersion: Int
                    var minProtocolVersion: Int
                }
                let version = try Self.decode(Version.self, response.body)
                #expect(version == Version(version: "0.1.0", protocolVersion: 1, minProtocolVersion: 1))
            }
        }
    }

    @Test("GET /healthz is 200 ok")
    func healthz() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok")
            }
        }
    }

    @Test("unknown routes and store failures use the error shape")
    func errors() async throws {
        let store = InMemoryHostStore(hosts: Self.hosts)
        try await Self.app(store).test(.router) { client in
            try await client.execute(uri: "/v2/anything", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try Self.decode(ErrorBody.self, response.body)
                #expect(body.error.code == "not_found")
            }
            store.setFailing(true)
            try await client.execute(uri: "/v1/hosts", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = try Self.decode(ErrorBody.self, response.body)
                #expect(body.error.code == "internal")
                #expect(body.error.message.contains("disk full"))
            }
        }
    }
}
