import FerryModel
import FerryStore
import Foundation
import Hummingbird

/// The plan and migration part of the HTTP API.
///
///     POST /v1/plans?file=NAME          body: plan text → 201 {"plan", "migrations"}; 422 invalid_plan
///     POST /v1/plans:validate?file=NAME dry run → 200 {"valid": true, "migrations", "prediction": PlanPrediction};
///                                       422 invalid_plan
///     GET  /v1/plans                    {"plans": [{"plan", "status", "phases"}...]} in submission order
///     GET  /v1/plans/{id}               {"plan", "status", "migrations"}
///     POST /v1/plans/{id}/cancel        {"cancelled": [...], "refused": [{"migration_id", "reason"}]}
///     GET  /v1/migrations/{id}          Migration
///     GET  /v1/events?migration=&plan=&after=&limit=   {"events": [...]} in history order
///
/// A 422 body is `{"error":{"code":"invalid_plan","message":"N problems","problems":[PlanProblem...]}}`.
enum PlanRoutes {
    static let maxPlanBytes = 8 << 20

    struct Submitted: Encodable {
        var plan: Plan
        var migrations: [Migration]
    }

    struct Validated: Encodable {
        var valid: Bool
        var migrations: [PlannedMigration]
        /// Forecast duration and downtime, per migration and for the plan.
        var prediction: PlanPrediction
    }

    struct PlanSummary: Encodable {
        var plan: Plan
        var status: PlanStatus
        /// How many of its migrations are in each phase.
        var phases: [String: Int]
    }

    struct PlanDetail: Encodable {
        var plan: Plan
        var status: PlanStatus
        var migrations: [Migration]
    }

    struct CancelOutcome: Encodable {
        struct Refusal: Encodable {
            var migrationId: String
            var reason: String
        }
        var cancelled: [String]
        var refused: [Refusal]
    }

    struct InvalidPlanBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var problems: [PlanProblem]
        }
        var error: Detail
    }

    static func add(
        to router: Router<BasicRequestContext>, hosts: any HostStore, plans: any PlanStore,
        supervisor: MigrationSupervisor? = nil
    ) {
        router.post("/v1/plans") { request, context in
            let (text, file) = try await body(request, context)
            switch try intake(text, file: file, hosts: hosts, plans: plans) {
            case .failure(let invalid): return try rejection(invalid)
            case .success(let accepted):
                let submitted = try store(accepted, text: text, file: file, plans: plans)
                return try JSONResponse.make(submitted, status: .created)
            }
        }
        router.post("/v1/plans:validate") { request, context in
            let (text, file) = try await body(request, context)
            switch try intake(text, file: file, hosts: hosts, plans: plans) {
            case .failure(let invalid): return try rejection(invalid)
            case .success(let accepted):
                let prediction = try forecast(accepted, hosts: hosts, plans: plans, limits: supervisor?.limits)
                return try JSONResponse.make(
                    Validated(valid: true, migrations: accepted.migrations, prediction: prediction))
            }
        }
        router.get("/v1/plans") { _, _ in
            let summaries = try storeCall { () throws(StoreError) in
                try plans.plans().map { plan throws(StoreError) in
                    let migrations = try plans.migrations(planID: plan.id)
                    return PlanSummary(
                        plan: plan, status: status(of: migrations),
                        phases: Dictionary(grouping: migrations, by: \.phase.rawValue).mapValues(\.count))
                }
            }
            return try JSONResponse.make(["plans": summaries])
        }
        router.get("/v1/plans/:id") { _, context in
            let id = try context.parameters.require("id")
            let detail = try storeCall { () throws(StoreError) -> PlanDetail? in
                guard let plan = try plans.plan(id: id) else { return nil }
                let migrations = try plans.migrations(planID: id)
                return PlanDetail(plan: plan, status: status(of: migrations), migrations: migrations)
            }
            guard let detail else { throw APIError.notFound("no plan '\(id)' is known") }
            return try JSONResponse.make(detail)
        }
        router.post("/v1/plans/:id/cancel") { _, context in
            let id = try context.parameters.require("id")
            guard try storeCall({ () throws(StoreError) in try plans.plan(id: id) }) != nil else {
                throw APIError.notFound("no plan '\(id)' is known")
            }
            if let supervisor {
                return try JSONResponse.make(try await cancel(planID: id, plans: plans, supervisor: supervisor))
            }
            return try JSONResponse.make(try cancel(planID: id, plans: plans))
        }
        if !(plans is any MigrationRuntimeStore) {
            router.get("/v1/migrations/:id") { _, context in
                let id = try context.parameters.require("id")
                guard let migration = try storeCall({ () throws(StoreError) in try plans.migration(id: id) }) else {
                    throw APIError.notFound("no migration '\(id)' is known")
                }
                return try JSONResponse.make(migration)
            }
        }
        router.get("/v1/events") { request, _ in
            let query = request.uri.queryParameters
            let after = try number(query.get("after"), name: "after", range: 0...Int64.max, default: 0)
            let limit = Int(try number(query.get("limit"), name: "limit", range: 1...10_000, default: 1000))
            let events = try storeCall { () throws(StoreError) in
                try plans.events(
                    planID: query.get("plan"), migrationID: query.get("migration"), afterSeq: after, limit: limit)
            }
            return try JSONResponse.make(["events": events])
        }
    }

    static func number(_ text: String?, name: String, range: ClosedRange<Int64>, default value: Int64) throws(APIError)
        -> Int64
    {
        guard let text else { return value }
        guard let parsed = Int64(text), range.contains(parsed) else {
            throw APIError.badRequest("\(name) must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return parsed
    }

    static func body(_ request: Request, _ context: BasicRequestContext) async throws -> (String, String) {
        let buffer = try await request.body.collect(upTo: maxPlanBytes)
        let file = request.uri.queryParameters.get("file") ?? "plan"
        return (String(buffer: buffer), file)
    }

    static func intake(_ text: String, file: String, hosts: any HostStore, plans: any PlanStore) throws(APIError)
        -> Result<AcceptedPlan, PlanInvalid>
    {
        let (known, active) = try storeCall { () throws(StoreError) in
            (try hosts.hosts(), try plans.unfinishedMigrations())
        }
        return PlanIntake.check(text, file: file, hosts: known, activeMigrations: active)
    }

    /// The dry run's forecast, with dirty-rate samples from earlier migrations of the same VMs.
    static func forecast(
        _ accepted: AcceptedPlan, hosts: any HostStore, plans: any PlanStore, limits: SchedulerLimits?
    ) throws(APIError) -> PlanPrediction {
        let (known, progress, past) = try storeCall {
            () throws(StoreError) -> ([HypervisorHost], [String: MigrationProgress], [Migration]) in
            guard let runtime = plans as? any MigrationRuntimeStore else { return (try hosts.hosts(), [:], []) }
            let progress = try runtime.allProgress()
            let vms = Set(accepted.migrations.map(\.vmID))
            var past: [Migration] = []
            for plan in try plans.plans() {
                past += try plans.migrations(planID: plan.id).filter { vms.contains($0.vmID) }
            }
            return (try hosts.hosts(), progress, past)
        }
        return PlanForecast.predict(
            accepted, hosts: known, pastProgress: progress, pastMigrations: past, limits: limits ?? .defaults)
    }

    static func rejection(_ invalid: PlanInvalid) throws -> Response {
        let count = invalid.problems.count
        let body = InvalidPlanBody(
            error: .init(
                code: "invalid_plan", message: "the plan has \(count) problem\(count == 1 ? "" : "s")",
                problems: invalid.problems))
        return try JSONResponse.make(body, status: .unprocessableContent)
    }

    /// Stores the plan, its migrations (pending) and their creation events in one transaction.
    static func store(_ accepted: AcceptedPlan, text: String, file: String, plans: any PlanStore) throws(APIError)
        -> Submitted
    {
        let now = Date()
        let planID = "plan-" + UUID().uuidString.prefix(8).lowercased()
        let plan = Plan(
            id: planID, name: accepted.document.name, fileName: file, source: text, policy: accepted.document.policy,
            submittedAt: now)
        let migrations = accepted.migrations.enumerated().map { index, m in
            Migration(
                id: "\(planID)-\(index + 1)", planID: planID, position: index, vmID: m.vmID,
                sourceHostID: m.sourceHostID,
                destinationHostID: m.destinationHostID, wave: m.wave, priority: m.priority, ramBytes: m.ramBytes,
                phaseTimes: [PhaseTime(phase: .pending, at: now)])
        }
        var events = [
            Event(
                at: now, planID: planID, kind: "plan_submitted",
                message: "plan '\(plan.name)' submitted from \(file) with \(migrations.count) migrations",
                attributes: ["file": file, "migrations": "\(migrations.count)"])
        ]
        events += migrations.map { m in
            Event(
                at: now, planID: planID, migrationID: m.id, kind: "migration_created",
                message: "\(m.vmID): \(m.sourceHostID) → \(m.destinationHostID), wave \(m.wave)",
                attributes: [
                    "vm": m.vmID, "source": m.sourceHostID, "destination": m.destinationHostID, "wave": "\(m.wave)",
                    "priority": "\(m.priority)",
                ])
        }
        try storeCall { () throws(StoreError) in try plans.submitPlan(plan, migrations: migrations, events: events) }
        return Submitted(plan: plan, migrations: migrations)
    }

    /// Cancels what the phase machine allows now. Pending and scheduled migrations end at once;
    /// in-flight ones need the migration driver to send Abort, which arrives with the driver.
    static func cancel(planID: String, plans: any PlanStore) throws(APIError) -> CancelOutcome {
        var outcome = CancelOutcome(cancelled: [], refused: [])
        let migrations = try storeCall { () throws(StoreError) in try plans.migrations(planID: planID) }
        for m in migrations where !m.phase.isTerminal {
            let state = MigrationState(phase: m.phase, lastSeq: m.commandSeq)
            switch PhaseMachine.apply(.cancelRequested(reason: "cancelled by the operator"), to: state) {
            case .failure(let rejection):
                outcome.refused.append(.init(migrationId: m.id, reason: rejection.reason))
            case .success(let transition) where !transition.commands.isEmpty:
                outcome.refused.append(
                    .init(
                        migrationId: m.id,
                        reason: "in flight (\(m.phase.rawValue)): rollback needs the migration driver"))
            case .success(let transition):
                let now = Date()
                let event = Event(
                    at: now, planID: planID, migrationID: m.id, kind: "phase_changed",
                    message: "\(m.phase.rawValue) → \(transition.state.phase.rawValue): cancelled by the operator",
                    attributes: ["from": m.phase.rawValue, "to": transition.state.phase.rawValue])
                do {
                    try plans.recordTransition(
                        migrationID: m.id, from: m.phase, to: transition.state.phase, at: now,
                        commandSeq: transition.state.lastSeq, reason: transition.state.reason, event: event)
                    outcome.cancelled.append(m.id)
                } catch .phaseConflict(_, _, let found) {
                    outcome.refused.append(.init(migrationId: m.id, reason: "moved to \(found) meanwhile; try again"))
                } catch {
                    throw APIError.internal("store: \(error)")
                }
            }
        }
        return outcome
    }

    /// Cancels every unfinished migration of the plan through its driver: in-flight ones roll back.
    static func cancel(planID: String, plans: any PlanStore, supervisor: MigrationSupervisor) async throws(APIError)
        -> CancelOutcome
    {
        var outcome = CancelOutcome(cancelled: [], refused: [])
        let migrations = try storeCall { () throws(StoreError) in try plans.migrations(planID: planID) }
        for m in migrations where !m.phase.isTerminal {
            switch await supervisor.cancel(migrationID: m.id, reason: "plan cancelled by the operator") {
            case .success: outcome.cancelled.append(m.id)
            case .failure(let refused): outcome.refused.append(.init(migrationId: m.id, reason: refused.description))
            }
        }
        return outcome
    }

    static func status(of migrations: [Migration]) -> PlanStatus {
        if migrations.contains(where: { !$0.phase.isTerminal }) { return .running }
        return migrations.allSatisfy { $0.phase == .completed } ? .completed : .ended
    }

    static func storeCall<T>(_ body: () throws(StoreError) -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch {
            throw .internal("store: \(error)")
        }
    }
}

extension APIError {
    static func badRequest(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "bad_request", message: message)
    }
}
