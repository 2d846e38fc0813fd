import FerryModel
import Foundation

/// `POST /v1/plans` → 201.
public struct SubmittedPlan: Codable, Sendable {
    public var plan: Plan
    public var migrations: [Migration]
}

/// `POST /v1/plans:validate` → 200.
public struct ValidatedPlan: Codable, Sendable {
    public var valid: Bool
    public var migrations: [PlannedMigration]
    /// Absent from a ferryd that predates forecasts.
    public var prediction: PlanPrediction?

    public init(valid: Bool, migrations: [PlannedMigration], prediction: PlanPrediction?) {
        self.valid = valid
        self.migrations = migrations
        self.prediction = prediction
    }
}

/// One row of `GET /v1/plans`.
public struct PlanSummary: Codable, Sendable {
    public var plan: Plan
    public var status: PlanStatus
    public var phases: [String: Int]
}

public struct PlanList: Codable, Sendable {
    public var plans: [PlanSummary]
}

/// `GET /v1/plans/{id}`.
public struct PlanDetail: Codable, Sendable {
    public var plan: Plan
    public var status: PlanStatus
    public var migrations: [Migration]
}

/// `POST /v1/plans/{id}/cancel`.
public struct CancelOutcome: Codable, Sendable {
    public struct Refusal: Codable, Sendable {
        public var migrationId: String
        public var reason: String
    }
    public var cancelled: [String]
    public var refused: [Refusal]
}

public struct EventList: Codable, Sendable {
    public var events: [Event]
}

extension APIClient {
    public func submitPlan(_ text: Data, file: String, dryRun: Bool) async throws(CLIError) -> APIResponse<Data> {
        let path = (dryRun ? "/v1/plans:validate" : "/v1/plans") + "?file=" + Self.escape(file)
        let response: APIResponse<IgnoredBody> = try await send("POST", path, body: text)
        return APIResponse(body: response.body, value: response.body)
    }

    public func plans() async throws(CLIError) -> APIResponse<PlanList> { try await get("/v1/plans") }

    public func plan(id: String) async throws(CLIError) -> APIResponse<PlanDetail> {
        try await get("/v1/plans/\(Self.escape(id))")
    }

    public func cancelPlan(id: String) async throws(CLIError) -> APIResponse<CancelOutcome> {
        try await send("POST", "/v1/plans/\(Self.escape(id))/cancel")
    }

    public func events(plan: String?, migration: String?) async throws(CLIError) -> APIResponse<EventList> {
        var query: [String] = []
        if let plan { query.append("plan=\(Self.escape(plan))") }
        if let migration { query.append("migration=\(Self.escape(migration))") }
        return try await get("/v1/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;?#%&=+")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Any JSON body, kept only as bytes.
struct IgnoredBody: Decodable, Sendable {
    init(from decoder: any Decoder) throws {}
}
