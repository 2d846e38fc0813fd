import FerryModel
import FerryStore
import Foundation
import Hummingbird

/// Migration status and control in the HTTP API (with a running supervisor).
///
///     GET  /v1/migrations?plan=&phase=&vm=&host=   {"migrations": [MigrationStatus...]} plan order
///     GET  /v1/migrations/{id}                     MigrationStatus (migration + progress + waiting_reason + eta)
///     POST /v1/migrations/{id}/cancel              MigrationStatus; 409 cancel_refused after the point of no return
///     GET  /metrics                                Prometheus text format
enum MigrationRoutes {
    static func add(
        to router: Router<BasicRequestContext>, store: any PlanStore & MigrationRuntimeStore,
        supervisor: MigrationSupervisor?
    ) {
        router.get("/v1/migrations") { request, _ in
            let query = request.uri.queryParameters
            let all = try await statuses(store: store, supervisor: supervisor, planID: query.get("plan"))
            let filtered = all.filter { s in
                (query.get("phase").map { $0 == s.migration.phase.rawValue } ?? true)
                    && (query.get("vm").map { $0 == s.migration.vmID } ?? true)
                    && (query.get("host").map { $0 == s.migration.sourceHostID || $0 == s.migration.destinationHostID }
                        ?? true)
            }
            return JSONResponse.make(bytes: MigrationStatusJSON.list(filtered))
        }
        router.get("/v1/migrations/:id") { _, context in
            let id = try context.parameters.require("id")
            return JSONResponse.make(
                bytes: MigrationStatusJSON.one(try await status(id, store: store, supervisor: supervisor)))
        }
        router.post("/v1/migrations/:id/cancel") { _, context in
            let id = try context.parameters.require("id")
            guard let supervisor else {
                throw APIError(status: .serviceUnavailable, code: "unavailable", message: "no migration driver runs")
            }
            switch await supervisor.cancel(migrationID: id, reason: "cancelled by the operator") {
            case .success: break
            case .failure(.unknown): throw APIError.notFound("no migration '\(id)' is known")
            case .failure(.refused(let reason)):
                throw APIError(status: .conflict, code: "cancel_refused", message: "cannot cancel \(id): \(reason)")
            case .failure(.store(let reason)): throw APIError.internal("store: \(reason)")
            }
            return JSONResponse.make(
                bytes: MigrationStatusJSON.one(try await status(id, store: store, supervisor: supervisor)))
        }
        router.get("/metrics") { _, _ in
            let all = try await statuses(store: store, supervisor: supervisor, planID: nil)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: MetricsText.render(all))))
        }
    }

    static func status(_ id: String, store: any PlanStore & MigrationRuntimeStore, supervisor: MigrationSupervisor?)
        async throws -> MigrationStatus
    {
        let (migration, stored) = try PlanRoutes.storeCall { () throws(StoreError) in
            (try store.migration(id: id), try store.progress(migrationID: id))
        }
        guard let migration else { throw APIError.notFound("no migration '\(id)' is known") }
        let live = await supervisor?.liveProgress(id)
        let wait = await supervisor?.waitReasons()[id]
        return MigrationStatus(migration: migration, progress: live ?? stored, waitingReason: wait)
    }

    static func statuses(
        store: any PlanStore & MigrationRuntimeStore, supervisor: MigrationSupervisor?, planID: String?
    )
        async throws -> [MigrationStatus]
    {
        let (migrations, progress) = try PlanRoutes.storeCall { () throws(StoreError) in
            let plans: [String] = if let planID { [planID] } else { try store.plans().map(\.id) }
            var migrations: [Migration] = []
            for id in plans { migrations += try store.migrations(planID: id) }
            // Only the plan's own progress rows: decoding every row of the history made status slow.
            let progress = if let planID { try store.progress(planID: planID) } else { try store.allProgress() }
            return (migrations, progress)
        }
        let waits = await supervisor?.waitReasons() ?? [:]
        // One call for all: a hop to the supervisor per migration was a measurable part of a plan's status.
        let live = await supervisor?.liveProgress(of: migrations.map(\.id)) ?? [:]
        return migrations.map { m in
            MigrationStatus(migration: m, progress: live[m.id] ?? progress[m.id], waitingReason: waits[m.id])
        }
    }
}
