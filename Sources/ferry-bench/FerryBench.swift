import ArgumentParser
import Foundation

/// ferry-bench: coordinator benchmarks for issue 6 (not tests; scripts/bench/coordinator runs it
/// in release). Each subcommand prints a table and, with --csv, writes its rows for the plots.
@main
struct FerryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-bench", abstract: "Coordinator benchmarks: plan intake and status latency.",
        subcommands: [Plans.self, Status.self])

    struct Plans: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse + validate + store of plans of several sizes (goal: 1,000 migrations ≤ 1 s).")
        @Option(help: "Plan sizes, comma-separated.") var sizes = "10,100,1000,5000"
        @Option(help: "Runs per size, each on a fresh store.") var runs = 7
        @Option(help: "CSV file to write.") var csv: String?

        func run() async throws {
            let sizes = try parseList(self.sizes, name: "--sizes", range: 1...100_000)
            guard (1...1000).contains(runs) else { throw ValidationError("--runs must be from 1 to 1000") }
            let rows = try await PlanIntakeBench(sizes: sizes, runs: runs).run()
            let header = [
                "migrations", "runs", "validate_p50_ms", "validate_max_ms", "dry_run_p50_ms", "dry_run_max_ms",
                "submit_p50_ms", "submit_p99_ms", "submit_max_ms",
            ]
            let lines = rows.map { r in
                [
                    "\(r.size)", "\(r.submit.count)", ms(r.validate.p50), ms(r.validate.max), ms(r.dryRun.p50),
                    ms(r.dryRun.max), ms(r.submit.p50), ms(r.submit.p99), ms(r.submit.max),
                ]
            }
            print("Plan intake (\(PlanIntakeBench.hosts) hosts; validate = in process; dry run and submit = HTTP)")
            print(table(header, lines))
            if let thousand = rows.first(where: { $0.size == 1000 }) {
                let verdict = thousand.submit.max <= 1000 ? "met" : "MISSED"
                print(
                    "goal: 1,000-migration plan validated and stored ≤ 1000 ms: worst \(ms(thousand.submit.max)) ms, \(verdict)"
                )
            }
            try writeCSV(csv, header, lines)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "status / events latency over HTTP vs events stored (goal: p99 ≤ 10 ms at 100k).")
        @Option(help: "Event counts, comma-separated.") var events = "1000,10000,100000"
        @Option(help: "Timed requests per query and size.") var requests = 300
        @Option(help: "CSV file to write.") var csv: String?

        func run() async throws {
            let counts = try parseList(events, name: "--events", range: 1...10_000_000)
            guard (10...100_000).contains(requests) else {
                throw ValidationError("--requests must be from 10 to 100000")
            }
            let rows = try await StatusBench(eventCounts: counts, requests: requests).run { name, plan in
                print("EXPLAIN QUERY PLAN \(name): \(plan.joined(separator: "; "))")
            }
            let header = ["events", "query", "requests", "p50_ms", "p99_ms", "max_ms"]
            let lines = rows.map { r in
                ["\(r.events)", r.query, "\(r.stats.count)", ms(r.stats.p50), ms(r.stats.p99), ms(r.stats.max)]
            }
            print("Status latency over HTTP (1,000 finished migrations in 10 plans; ferryctl's client)")
            print(table(header, lines))
            let worst =
                rows.filter { $0.events == counts.max() && ["status MIGRATION", "status PLAN"].contains($0.query) }
                .map(\.stats.p99).max() ?? 0
            let verdict = worst <= 10 ? "met" : "MISSED"
            print("goal: status p99 ≤ 10 ms with \(counts.max() ?? 0) events: worst p99 \(ms(worst)) ms, \(verdict)")
            try writeCSV(csv, header, lines)
        }
    }
}

func parseList(_ text: String, name: String, range: ClosedRange<Int>) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0.map(range.contains) == true }) else {
        throw ValidationError(
            "\(name) must be comma-separated integers from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
    }
    return values.compactMap { $0 }
}

func ms(_ value: Double) -> String { String(format: "%.2f", value) }

/// Columns padded to their widest cell, numbers right-aligned.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            return Double(cell) != nil ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

func writeCSV(_ path: String?, _ header: [String], _ rows: [[String]]) throws {
    guard let path else { return }
    let text = ([header] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}
