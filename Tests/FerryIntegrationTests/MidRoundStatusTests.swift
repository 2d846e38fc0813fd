import FerryModel
import Foundation
import Testing

/// Round 0 of a real migration, watched through `ferryctl status MIGRATION --output json`: the
/// source's mid-round reports move the bytes sent while the round number stays, and ferryd judges
/// none of them as a round.
@Suite("Mid-round progress through the CLI, with real agents", .serialized)
struct MidRoundStatusTests {
    @Test("within round 0 the bytes sent grow between reads, the round stays 0, no convergence decision is recorded")
    func roundZeroProgressShows() async throws {
        // 64 MiB at 4 MiB/s: round 0 takes about 16 s, so several mid-round reports (about 1/s) come
        // in before it ends. A 1 s no-progress window: were the mid-round reports (remaining 0, no
        // new low) taken for rounds, ferryd would record a `stalling` verdict within a few of them.
        let m = try await PrecopyMigration.start(
            policy: "  max_downtime: 300ms\n  bandwidth: 4MiB/s\n  max_rounds: 30\n  no_progress_window: 1s")

        var seen: [MigrationStatus] = []
        let watched = try await eventually(timeout: .seconds(60), every: .milliseconds(200)) {
            guard let s = try await m.status(), PrecopyMigration.inRoundZero(s) else { return true }
            let sent = s.progress?.ramBytesSent ?? 0
            if sent > 0 && sent != seen.last?.progress?.ramBytesSent { seen.append(s) }
            return seen.count >= 4
        }
        // Read while round 0 is in flight as long as a later read still shows it in flight.
        let history = try await m.events()
        let after = try #require(try await m.status())
        let judged = history.filter { $0.attributes["verdict"] != nil }
        #expect(judged.isEmpty, "a mid-round report was judged: \(judged.map(\.message))")
        #expect(watched, "no mid-round progress seen\n\(m.cluster.logs())")
        try #require(seen.count >= 4, "round 0 ended after \(seen.count) reads: \(seen)\n\(m.cluster.logs())")
        try #require(PrecopyMigration.inRoundZero(after), "round 0 ended before the check: \(after)")

        let sent = seen.map { $0.progress?.ramBytesSent ?? 0 }
        #expect(sent == sent.sorted() && Set(sent).count == sent.count, "bytes sent did not grow: \(sent)")
        #expect(seen.allSatisfy { $0.progress?.round == 0 }, "\(seen.map { $0.progress?.round })")
        #expect(sent.last ?? 0 < 64 << 20, "round 0 cannot have sent all of RAM yet: \(sent)")
        #expect(seen.allSatisfy { ($0.progress?.bandwidthBytesPerSec ?? 0) > 0 }, "no bandwidth so far shown")
        m.vm.signal(SIGTERM)
    }
}
