import FerryModel
import Foundation

/// Tables for plans, migrations and events.
public enum PlanRendering {
    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(CLIError) -> T {
        do {
            return try FerryJSON.decoder().decode(type, from: body)
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
