import FerryModel
import Prometheus

/// /metrics in the Prometheus text exposition format (0.0.4), rendered by swift-prometheus.
///
/// Every scrape builds a fresh registry from the store's statuses: the numbers are facts the store
/// keeps (phases, bytes reported, downtimes measured), so they survive a ferryd restart and cannot
/// drift from `status`, which a long-lived process-global registry fed by events could.
enum MetricsText {
    /// Downtime histogram buckets, seconds (the default budget is 300 ms).
    static let downtimeBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5]

    static func render(_ statuses: [MigrationStatus]) -> String {
        let registry = PrometheusCollectorRegistry()
        var byPhase: [MigrationPhase: Int] = [:]
        for s in statuses { byPhase[s.migration.phase, default: 0] += 1 }
        for phase in MigrationPhase.allCases {
            registry.makeGauge(
                name: "ferry_migrations", labels: [("phase", phase.rawValue)], help: "Migrations by phase."
            ).set(Int64(byPhase[phase] ?? 0))
        }

        let bytesHelp = "Guest RAM and device bytes sent by the source agents."
        let ram = statuses.reduce(UInt64(0)) { $0 + ($1.progress?.ramBytesSent ?? 0) }
        let device = statuses.reduce(UInt64(0)) { $0 + ($1.progress?.deviceBytesSent ?? 0) }
        registry.makeCounter(name: "ferry_migration_bytes_sent_total", labels: [("kind", "ram")], help: bytesHelp)
            .increment(by: Int64(clamping: ram))
        registry.makeCounter(name: "ferry_migration_bytes_sent_total", labels: [("kind", "device")], help: bytesHelp)
            .increment(by: Int64(clamping: device))

        let downtime = registry.makeValueHistogram(
            name: "ferry_migration_downtime_seconds", buckets: downtimeBuckets,
            help: "Actual downtime of completed migrations.")
        for seconds in completedDowntimes(statuses) { downtime.record(seconds) }
        return registry.emitToString()
    }

    /// Downtimes (seconds) of completed migrations that reported one.
    static func completedDowntimes(_ statuses: [MigrationStatus]) -> [Double] {
        statuses.filter { $0.migration.phase == .completed }.compactMap { s -> Double? in
            guard let us = s.progress?.actualDowntimeUs, us > 0 else { return nil }
            return Double(us) / 1e6
        }
    }
}
