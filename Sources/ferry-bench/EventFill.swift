import FerryModel
import FerryStore
import Foundation

/// Fills a store with a finished history through the store's own API: `plans` plans of
/// `migrationsPerPlan` completed migrations, each with progress and runtime rows, and `events`
/// events in all, spread evenly over the migrations (transitions and per-round decisions, as the
/// migration driver writes them).
struct EventFill {
    var plans: Int
    var migrationsPerPlan: Int
    var events: Int

    var migrationCount: Int { plans * migrationsPerPlan }

    static func planID(_ p: Int) -> String { "plan-\(String(format: "%03d", p + 1))" }
    static func migrationID(plan p: Int, _ m: Int) -> String { "\(planID(p))-\(m + 1)" }

    /// Events per migration: the stored total is `plans + migrationCount * perMigration`.
    var perMigration: Int { max(1, events / max(1, migrationCount)) }

    func fill(_ store: SQLiteStore) throws {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let path: [MigrationPhase] = [.pending, .scheduled, .preparing, .precopy, .cutover, .resuming, .completed]
        for p in 0..<plans {
            let planID = Self.planID(p)
            let submitted = start.addingTimeInterval(Double(p) * 3600)
            let plan = Plan(
                id: planID, name: "history-\(p + 1)", fileName: "history.yaml", source: "name: history\n",
                policy: .defaults, submittedAt: submitted)
            var migrations: [Migration] = []
            var events = [
                Event(
                    at: submitted, planID: planID, kind: "plan_submitted", message: "plan submitted",
                    attributes: ["migrations": "\(migrationsPerPlan)"])
            ]
            for m in 0..<migrationsPerPlan {
                let id = Self.migrationID(plan: p, m)
                let times = path.enumerated().map { i, phase in
                    PhaseTime(phase: phase, at: submitted.addingTimeInterval(Double(m) + Double(i) * 5))
                }
                migrations.append(
                    Migration(
                        id: id, planID: planID, position: m, vmID: "vm-\(p)-\(m)", sourceHostID: "host-a",
                        destinationHostID: "host-b", wave: 1, priority: 0, ramBytes: 4 << 30, phase: .completed,
                        phaseTimes: times, commandSeq: 6))
                // The last event of each migration comes with its runtime row (commitTransition below).
                for e in 0..<(perMigration - 1) {
                    events.append(Self.historyEvent(planID: planID, migrationID: id, index: e, at: submitted))
                }
            }
            try store.submitPlan(plan, migrations: migrations, events: events)
            for m in 0..<migrationsPerPlan {
                let id = Self.migrationID(plan: p, m)
                let done = submitted.addingTimeInterval(Double(m) + 30)
                try store.commitTransition(
                    migrationID: id, from: .completed, to: .completed, at: done, commandSeq: 6, reason: "",
                    runtime: MigrationRuntime(token: "token-\(id)", policy: .defaults),
                    event: Event(
                        at: done, planID: planID, migrationID: id, kind: "phase_changed",
                        message: "resuming → completed", attributes: ["from": "resuming", "to": "completed"]))
                try store.recordProgress(
                    migrationID: id,
                    progress: MigrationProgress(
                        round: 7, ramBytesSent: 5 << 30, deviceBytesSent: 64 << 20, dirtyBytesRemaining: 0,
                        dirtyRateBytesPerSec: 40_000_000, bandwidthBytesPerSec: 1_100_000_000,
                        expectedDowntimeUs: 180_000, actualDowntimeUs: 171_000 + UInt64(m), sourcePhase: "done",
                        destinationPhase: "running",
                        devices: [.init(id: "sim0", state: "running", pendingBytes: 0, bytesSent: 64 << 20)],
                        updatedAt: done),
                    at: done)
            }
        }
    }

    /// The i-th event of a migration's history: transitions first, then one decision per round.
    static func historyEvent(planID: String, migrationID: String, index: Int, at: Date) -> Event {
        let transitions = [
            "pending → scheduled", "scheduled → preparing", "preparing → precopy", "precopy → cutover",
            "cutover → resuming",
        ]
        if index < transitions.count {
            let parts = transitions[index].components(separatedBy: " → ")
            return Event(
                at: at.addingTimeInterval(Double(index)), planID: planID, migrationID: migrationID,
                kind: "phase_changed", message: transitions[index], attributes: ["from": parts[0], "to": parts[1]])
        }
        let round = index - transitions.count + 1
        return Event(
            at: at.addingTimeInterval(Double(index)), planID: planID, migrationID: migrationID, kind: "round_progress",
            message: "round \(round): 512 MiB dirty, expected downtime 480 ms over a 300 ms budget",
            attributes: [
                "round": "\(round)", "dirty_bytes": "536870912", "bandwidth": "1100000000",
                "expected_downtime_ms": "480",
            ])
    }
}
