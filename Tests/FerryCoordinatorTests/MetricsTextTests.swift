import FerryModel
import Foundation
import Testing

@testable import FerryCoordinator

@Suite("/metrics text")
struct MetricsTextTests {
    static func status(_ id: String, _ phase: MigrationPhase, progress: MigrationProgress? = nil) -> MigrationStatus {
        MigrationStatus(
            migration: Migration(
                id: id, planID: "p", position: 0, vmID: "vm-\(id)", sourceHostID: "a", destinationHostID: "b",
                wave: 1, priority: 0, ramBytes: 1 << 30, phase: phase),
            progress: progress, waitingReason: nil)
    }

    /// The sample lines (no comments), as a name{labels} → value map.
    static func samples(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 2, "malformed sample line: \(line)")
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    @Test func emptyStoreGivesEveryFamilyAtZero() {
        let text = MetricsText.render([])
        let s = Self.samples(text)
        for phase in MigrationPhase.allCases {
            #expect(Double(s["ferry_migrations{phase=\"\(phase.rawValue)\"}"] ?? "") == 0, "\(phase)")
        }
        #expect(s["ferry_migration_bytes_sent_total{kind=\"ram\"}"] == "0")
        #expect(s["ferry_migration_downtime_seconds_count"] == "0")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"+Inf\"}"] == "0")
        #expect(text.contains("# TYPE ferry_migrations gauge"))
        #expect(text.contains("# TYPE ferry_migration_bytes_sent_total counter"))
        #expect(text.contains("# TYPE ferry_migration_downtime_seconds histogram"))
        #expect(text.contains("# HELP ferry_migrations Migrations by phase."))
    }

    @Test func phasesBytesAndDowntimesAreCounted() {
        let statuses = [
            Self.status(
                "1", .completed,
                progress: MigrationProgress(ramBytesSent: 1000, deviceBytesSent: 10, actualDowntimeUs: 40_000)),
            Self.status(
                "2", .completed,
                progress: MigrationProgress(ramBytesSent: 2000, deviceBytesSent: 20, actualDowntimeUs: 250_000)),
            // Completed without a measured downtime: not in the histogram.
            Self.status("3", .completed, progress: MigrationProgress(ramBytesSent: 5)),
            // A downtime reported by a migration that then rolled back: not a completed downtime.
            Self.status("4", .rolledBack, progress: MigrationProgress(ramBytesSent: 7, actualDowntimeUs: 9_000_000)),
            Self.status("5", .precopy),
            Self.status("6", .precopy),
        ]
        let s = Self.samples(MetricsText.render(statuses))
        #expect(Double(s["ferry_migrations{phase=\"completed\"}"] ?? "") == 3)
        #expect(Double(s["ferry_migrations{phase=\"precopy\"}"] ?? "") == 2)
        #expect(Double(s["ferry_migrations{phase=\"rolled_back\"}"] ?? "") == 1)
        #expect(Double(s["ferry_migrations{phase=\"pending\"}"] ?? "") == 0)
        #expect(s["ferry_migration_bytes_sent_total{kind=\"ram\"}"] == "3012")
        #expect(s["ferry_migration_bytes_sent_total{kind=\"device\"}"] == "30")
        // Cumulative buckets: 40 ms falls in le=0.05 and above, 250 ms in le=0.3 and above.
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"0.025\"}"] == "0")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"0.05\"}"] == "1")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"0.2\"}"] == "1")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"0.3\"}"] == "2")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"5.0\"}"] == "2")
        #expect(s["ferry_migration_downtime_seconds_bucket{le=\"+Inf\"}"] == "2")
        #expect(s["ferry_migration_downtime_seconds_count"] == "2")
        #expect(abs((Double(s["ferry_migration_downtime_seconds_sum"] ?? "") ?? 0) - 0.29) < 1e-9)
    }

    @Test func everyBucketIsEmittedInOrder() {
        let text = MetricsText.render([])
        let les = text.split(separator: "\n").filter { $0.hasPrefix("ferry_migration_downtime_seconds_bucket") }
            .map { line in line.split(separator: "\"")[1] }
        #expect(les == MetricsText.downtimeBuckets.map { "\($0)" } + ["+Inf"])
    }

    @Test func renderingTwiceGivesTheSameSamples() {
        // A fresh registry per scrape: nothing accumulates between scrapes (the library orders
        // families as its dictionary does, so only the set of lines is stable).
        let statuses = [Self.status("1", .completed, progress: MigrationProgress(ramBytesSent: 5, actualDowntimeUs: 1))]
        let first = MetricsText.render(statuses)
        #expect(Set(first.split(separator: "\n")) == Set(MetricsText.render(statuses).split(separator: "\n")))
        #expect(Self.samples(first)["ferry_migration_bytes_sent_total{kind=\"ram\"}"] == "5")
    }

    @Test func everySampleFollowsTheTypeLineOfItsFamily() {
        // The exposition format: a family's samples come together, after its # TYPE line.
        let statuses = [Self.status("1", .completed, progress: MigrationProgress(ramBytesSent: 5, actualDowntimeUs: 1))]
        var family = ""
        var seen: [String] = []
        for line in MetricsText.render(statuses).split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                family = String(line.split(separator: " ")[2])
                #expect(!seen.contains(family), "family \(family) appears twice")
                seen.append(family)
            } else if !line.hasPrefix("#") {
                #expect(
                    line.hasPrefix(family + "{") || line.hasPrefix(family + "_") || line.hasPrefix(family + " "),
                    "\(line) outside \(family)")
            }
        }
        #expect(
            Set(seen) == ["ferry_migrations", "ferry_migration_bytes_sent_total", "ferry_migration_downtime_seconds"])
    }
}
