import FerryModel
import Foundation

/// `GET /v1/migrations`.
public struct MigrationList: Codable, Sendable, DeclaredJSONKeys, JSONReadable {
    public var migrations: [MigrationStatus]

    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> MigrationList {
        var migrations: [MigrationStatus]?
        try r.beginObject()
        while let key = try r.nextKey() {
            if key == "migrations" { migrations = try r.array(of: MigrationStatus.self) } else { try r.skipValue() }
        }
        guard let migrations else { throw JSONReader.Mismatch() }
        return MigrationList(migrations: migrations)
    }
}

extension APIClient {
    public func migrations(plan: String?) async throws(CLIError) -> APIResponse<MigrationList> {
        try await get("/v1/migrations" + (plan.map { "?plan=" + Self.escape($0) } ?? ""))
    }

    public func migration(id: String) async throws(CLIError) -> APIResponse<MigrationStatus> {
        try await get("/v1/migrations/\(Self.escape(id))")
    }

    public func cancelMigration(id: String) async throws(CLIError) -> APIResponse<MigrationStatus> {
        try await send("POST", "/v1/migrations/\(Self.escape(id))/cancel")
    }

    /// The migrations `status ARG` names: a plan's, else the one migration, else all.
    func statuses(_ target: String?) async throws(CLIError) -> (body: Data, statuses: [MigrationStatus]) {
        guard let target else {
            let all = try await migrations(plan: nil)
            return (all.body, all.value.migrations)
        }
        let ofPlan = try await migrations(plan: target)
        if !ofPlan.value.migrations.isEmpty { return (ofPlan.body, ofPlan.value.migrations) }
        let one = try await migration(id: target)
        return (one.body, [one.value])
    }
}
