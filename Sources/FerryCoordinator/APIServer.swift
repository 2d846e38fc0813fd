import FerryModel
import FerryStore
import FerryWire
import Hummingbird
import Logging

/// ferryd's HTTP/JSON API for ferryctl and scripts.
///
///     GET /v1/hosts        {"hosts": [HypervisorHost...]} ordered by id
///     GET /v1/hosts/{id}   HypervisorHost, or 404 not_found
///     GET /v1/version      {"version", "protocol_version", "min_protocol_version"}
///     GET /healthz         200 "ok"
public enum APIServer {
    /// ferryd's version, reported by /v1/version.
    public static let version = "0.1.0"

    struct HostList: Encodable {
        var hosts: [HypervisorHost]
    }

    struct VersionInfo: Encodable {
        var version: String
        var protocolVersion: UInt32
        var minProtocolVersion: UInt32
    }

    /// The routes, with store reads; store failures become 500 `internal` errors.
    /// Plan and migration routes (PlanRoutes) are served when the store also keeps plans.
    public static func router(store: any HostStore, logger: Logger, migrations: MigrationSupervisor? = nil)
        -> Router<BasicRequestContext>
    {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(APIErrorMiddleware<BasicRequestContext>(logger: logger))
        router.get("/healthz") { _, _ in "ok" }
        router.get("/v1/version") { _, _ in
            try JSONResponse.make(
                VersionInfo(
                    version: version, protocolVersion: ProtocolVersionRange.thisBuild.highest,
                    minProtocolVersion: ProtocolVersionRange.thisBuild.lowest))
        }
        router.get("/v1/hosts") { _, _ in
            try JSONResponse.make(HostList(hosts: try readStore { () throws(StoreError) in try store.hosts() }))
        }
        router.get("/v1/hosts/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let host = try readStore({ () throws(StoreError) in try store.host(id: id) }) else {
                throw APIError.notFound("no host '\(id)' is known")
            }
            return try JSONResponse.make(host)
        }
        if let plans = store as? any PlanStore {
            PlanRoutes.add(to: router, hosts: store, plans: plans, supervisor: migrations)
        }
        if let runtime = store as? any PlanStore & MigrationRuntimeStore {
            MigrationRoutes.add(to: router, store: runtime, supervisor: migrations)
        }
        return router
    }

    private static func readStore<T>(_ read: () throws(StoreError) -> T) throws(APIError) -> T {
        do {
            return try read()
        } catch {
            throw .internal("store: \(error)")
        }
    }

    /// The Hummingbird application on `address`. `onRunning` gets the bound `IP:PORT` (the real
    /// port when 0 was asked for).
    public static func application(
        address: ListenAddress, store: any HostStore, logger: Logger, migrations: MigrationSupervisor? = nil,
        onRunning: @escaping @Sendable (String) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router(store: store, logger: logger, migrations: migrations),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "ferryd"),
            onServerRunning: { channel in
                await onRunning(channel.localAddress.map(AgentConnection.hostPort) ?? "\(address)")
            },
            logger: logger)
    }
}
