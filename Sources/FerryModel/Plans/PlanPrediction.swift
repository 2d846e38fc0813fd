/// A dry run's forecast for a whole plan: each migration's `MigrationPrediction` placed on a
/// timeline by the real `Scheduler` (caps, waves, priority), as if every migration took its
/// predicted duration. Pure.
///
/// Concurrent migrations are assumed not to slow each other down (each gets its own bandwidth);
/// on a shared link that is optimistic, which the notes say.
public struct PlanPrediction: Codable, Sendable, Equatable {
    /// One planned migration on the timeline, in plan order.
    public struct Entry: Codable, Sendable, Equatable {
        public var vmID: String
        /// Seconds from the plan's start.
        public var startSeconds: Double
        public var endSeconds: Double
        public var prediction: MigrationPrediction

        enum CodingKeys: String, CodingKey {
            case vmID = "vmId"
            case startSeconds, endSeconds, prediction
        }

        public init(vmID: String, startSeconds: Double, endSeconds: Double, prediction: MigrationPrediction) {
            self.vmID = vmID
            self.startSeconds = startSeconds
            self.endSeconds = endSeconds
            self.prediction = prediction
        }
    }

    public var durationSeconds: Double
    /// The longest predicted pause of any migration.
    public var worstDowntimeMs: Double
    /// How many migrations are predicted over their downtime budget or past their deadline.
    public var overBudget: Int
    public var limits: SchedulerLimits
    public var migrations: [Entry]
    public var notes: [String]

    /// `predictions[i]` belongs to `planned[i]`.
    public static func predict(
        _ planned: [PlannedMigration], predictions: [MigrationPrediction], limits: SchedulerLimits
    ) -> PlanPrediction {
        precondition(planned.count == predictions.count, "one prediction per planned migration")
        let planID = "dry-run"
        var migrations = planned.enumerated().map { i, p in
            Migration(
                id: "\(i)", planID: planID, position: i, vmID: p.vmID, sourceHostID: p.sourceHostID,
                destinationHostID: p.destinationHostID, wave: p.wave, priority: p.priority, ramBytes: p.ramBytes)
        }
        var start = [Double?](repeating: nil, count: planned.count)
        var end = [Double?](repeating: nil, count: planned.count)
        var now = 0.0
        var notes: [String] = []
        while migrations.contains(where: { !$0.phase.isTerminal }) {
            // Ended migrations hold no slot and no wave open: leave them out of each pass.
            let decision = Scheduler.schedule(
                migrations.filter { !$0.phase.isTerminal }, planOrder: [planID], limits: limits, reasons: false)
            for id in decision.admit {
                let i = Int(id)!
                migrations[i].phase = .precopy
                start[i] = now
                end[i] = now + predictions[i].durationSeconds
            }
            let running = migrations.indices.filter { migrations[$0].phase == .precopy }
            guard let next = running.compactMap({ end[$0] }).min() else {
                // Nothing runs and nothing can be admitted: a cap of 0. Say so instead of looping.
                let stuck = migrations.filter { !$0.phase.isTerminal }.count
                notes.append("\(stuck) migrations can never be admitted under these caps")
                break
            }
            now = next
            for i in running where end[i] == next { migrations[i].phase = .completed }
        }
        let entries = planned.indices.map { i in
            Entry(
                vmID: planned[i].vmID, startSeconds: start[i] ?? 0, endSeconds: end[i] ?? 0,
                prediction: predictions[i])
        }
        let unmeasured = predictions.filter { $0.notes.contains { $0.hasPrefix("no dirty-rate sample") } }.count
        if unmeasured > 0 {
            notes.append("\(unmeasured) of \(predictions.count) migrations have no dirty-rate sample (assumed 0)")
        }
        if limits.cluster > 1 && planned.count > 1 {
            notes.append("concurrent migrations are assumed not to share bandwidth")
        }
        return PlanPrediction(
            durationSeconds: entries.map(\.endSeconds).max() ?? 0,
            worstDowntimeMs: predictions.map(\.downtimeMs).max() ?? 0,
            overBudget: predictions.filter { !$0.fitsBudget }.count, limits: limits, migrations: entries,
            notes: notes)
    }
}
