import FerryModel

/// /metrics in the Prometheus text exposition format (0.0.4), written by hand: three families
/// computed from the store on each scrape, so no process-global registry (swift-prometheus') has
/// to be kept in step with the store across restarts.
enum MetricsText {
    /// Downtime histogram buckets, milliseconds (the default budget is 300 ms).
    static let downtimeBucketsMs: [Double] = [10, 25, 50, 100, 200, 300, 500, 1000, 2000, 5000]

    static func render(_ statuses: [MigrationStatus]) -> String {
        var out = ""
        out += "# HELP ferry_migrations Migrations by phase.\n# TYPE ferry_migrations gauge\n"
        var byPhase: [MigrationPhase: Int] = [:]
        for s in statuses { byPhase[s.migration.phase, default: 0] += 1 }
        for phase in MigrationPhase.allCases {
            out += "ferry_migrations{phase=\"\(phase.rawValue)\"} \(byPhase[phase] ?? 0)\n"
        }
        out += "# HELP ferry_migration_bytes_sent_total Guest RAM and device bytes sent by the source agents.\n"
        out += "# TYPE ferry_migration_bytes_sent_total counter\n"
        let ram = statuses.reduce(UInt64(0)) { $0 + ($1.progress?.ramBytesSent ?? 0) }
        let device = statuses.reduce(UInt64(0)) { $0 + ($1.progress?.deviceBytesSent ?? 0) }
        out += "ferry_migration_bytes_sent_total{kind=\"ram\"} \(ram)\n"
        out += "ferry_migration_bytes_sent_total{kind=\"device\"} \(device)\n"
        out += "# HELP ferry_migration_downtime_seconds Actual downtime of completed migrations.\n"
        out += "# TYPE ferry_migration_downtime_seconds histogram\n"
        let downtimes = statuses.filter { $0.migration.phase == .completed }.compactMap { s -> Double? in
            guard let us = s.progress?.actualDowntimeUs, us > 0 else { return nil }
            return Double(us) / 1e6
        }
        for bucket in downtimeBucketsMs {
            let count = downtimes.filter { $0 <= bucket / 1000 }.count
            out += "ferry_migration_downtime_seconds_bucket{le=\"\(format(bucket / 1000))\"} \(count)\n"
        }
        out += "ferry_migration_downtime_seconds_bucket{le=\"+Inf\"} \(downtimes.count)\n"
        out += "ferry_migration_downtime_seconds_sum \(format(downtimes.reduce(0, +)))\n"
        out += "ferry_migration_downtime_seconds_count \(downtimes.count)\n"
        return out
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}
