import FerryModel
import Foundation

/// Tables for plans, migrations and events.
public enum PlanRendering {
    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(CLIError) -> T {
        do {
            return try FerryJSON.decoder(for: type).decode(type, from: body)
        } catch {
            throw .badResponse(reason: "body is not a \(T.self): \(error)")
        }
    }

    public static func migrations(_ migrations: [Migration]) -> String {
        TextTable(
            headers: ["ID", "VM", "SOURCE", "DESTINATION", "WAVE", "PRIORITY", "RAM", "PHASE", "REASON"],
            rows: migrations.map {
                [
                    $0.id, $0.vmID, $0.sourceHostID, $0.destinationHostID, "\($0.wave)", "\($0.priority)",
                    ByteCount.text($0.ramBytes), $0.phase.rawValue, $0.reason,
                ]
            }
        ).render()
    }

    public static func planned(_ migrations: [PlannedMigration]) -> String {
        TextTable(
            headers: ["LINE", "VM", "SOURCE", "DESTINATION", "WAVE", "PRIORITY", "RAM"],
            rows: migrations.map {
                [
                    "\($0.line)", $0.vmID, $0.sourceHostID, $0.destinationHostID, "\($0.wave)", "\($0.priority)",
                    ByteCount.text($0.ramBytes),
                ]
            }
        ).render()
    }

    /// The dry run's table: each migration with its forecast, then the plan's totals and notes.
    public static func predicted(_ migrations: [PlannedMigration], _ prediction: PlanPrediction) -> String {
        let rows = zip(migrations, prediction.migrations).map { m, entry in
            let p = entry.prediction
            return [
                "\(m.line)", m.vmID, m.sourceHostID, m.destinationHostID, "\(m.wave)", "\(m.priority)",
                ByteCount.text(m.ramBytes), ByteCount.text(p.bandwidthBytesPerSec) + "/s",
                p.notes.contains { $0.hasPrefix("no dirty-rate sample") }
                    ? "no sample" : ByteCount.text(p.dirtyRateBytesPerSec) + "/s",
                "\(p.rounds)", downtime(p.downtimeMs), MigrationETA.duration(p.durationSeconds),
                MigrationETA.duration(entry.startSeconds), outcome(p),
            ]
        }
        var text = TextTable(
            headers: [
                "LINE", "VM", "SOURCE", "DESTINATION", "WAVE", "PRIORITY", "RAM", "BANDWIDTH", "DIRTY RATE", "ROUNDS",
                "DOWNTIME", "DURATION", "STARTS AT", "FORECAST",
            ],
            rows: rows
        ).render()
        let limits = prediction.limits
        text +=
            "plan: predicted duration \(MigrationETA.duration(prediction.durationSeconds)), worst downtime \(downtime(prediction.worstDowntimeMs)), \(prediction.overBudget) over budget (caps: cluster \(limits.cluster), outbound \(limits.outboundPerHost), inbound \(limits.inboundPerHost) per host)\n"
        // Bandwidth assumptions once each; budget problems per VM.
        var notes = prediction.notes
        for entry in prediction.migrations {
            for note in entry.prediction.notes where note.hasPrefix("bandwidth") && !notes.contains(note) {
                notes.append(note)
            }
        }
        for entry in prediction.migrations {
            for note in entry.prediction.notes where note.hasPrefix("does not") || note.hasPrefix("passes") {
                notes.append("\(entry.vmID): \(note)")
            }
        }
        for note in notes { text += "note: \(note)\n" }
        return text
    }

    static func downtime(_ ms: Double) -> String {
        ms < 10 ? String(format: "%.1fms", ms) : "\(Int(ms.rounded()))ms"
    }

    static func outcome(_ p: MigrationPrediction) -> String {
        switch p.outcome {
        case .converges: "fits budget"
        case .overBudgetAtMaxRounds: "over budget"
        case .deadline: "hits deadline"
        }
    }

    public static func plans(_ plans: [PlanSummary]) -> String {
        TextTable(
            headers: ["ID", "NAME", "STATUS", "MIGRATIONS", "PHASES", "SUBMITTED"],
            rows: plans.map { summary in
                [
                    summary.plan.id, summary.plan.name, summary.status.rawValue,
                    "\(summary.phases.values.reduce(0, +))",
                    summary.phases.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                    summary.plan.submittedAt.formatted(.iso8601),
                ]
            }
        ).render()
    }

    public static func events(_ events: [Event]) -> String {
        TextTable(
            headers: ["SEQ", "AT", "MIGRATION", "KIND", "MESSAGE"],
            rows: events.map {
                [
                    "\($0.seq)", $0.at.formatted(.iso8601), $0.migrationID.isEmpty ? "-" : $0.migrationID, $0.kind,
                    $0.message,
                ]
            }
        ).render()
    }
}
