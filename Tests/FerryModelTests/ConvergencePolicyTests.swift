import FerryModel
import Testing

/// Decisions over recorded progress sequences, one sample every 10 s.
@Suite("Convergence policy")
struct ConvergencePolicyTests {
    static let gib: UInt64 = 1 << 30
    static let policy = MigrationPolicy(
        maxDowntimeMs: 300, bandwidthBytesPerSec: 0, completionSecondsPerGiB: 150, noProgressWindowSeconds: 60,
        maxRounds: 30, autoConverge: true, channels: 2, priority: 0)

    /// Samples from remaining-byte values (MiB), one per 10 s starting at 10 s.
    static func samples(_ remainingMiB: [UInt64], dirtyRate: UInt64 = 100 << 20, bandwidth: UInt64 = 1 << 30)
        -> [ProgressSample]
    {
        remainingMiB.enumerated().map { i, mib in
            ProgressSample(
                seconds: Double(10 * (i + 1)), round: UInt32(i + 1), dirtyBytesRemaining: mib << 20,
                dirtyRateBytesPerSec: dirtyRate, bandwidthBytesPerSec: bandwidth)
        }
    }

    static func decide(
        _ samples: [ProgressSample], policy: MigrationPolicy = policy, throttle: UInt32 = 0,
        lastEscalation: Double? = nil, ram: UInt64 = 8 * gib
    ) -> ConvergenceDecision {
        ConvergencePolicy.decide(
            policy: policy, ramBytes: ram, samples: samples, now: samples.last?.seconds ?? 0,
            throttlePercent: throttle, lastEscalation: lastEscalation)
    }

    @Test func convergingKeepsGoing() {
        let d = Self.decide(Self.samples([4000, 2000, 1200, 900, 700, 600, 500, 450, 400]))
        #expect(d.verdict == .converging)
        #expect(d.action == .keepGoing)
        #expect(d.inputs["lowest_remaining_bytes"] == "\(UInt64(400) << 20)")
    }

    @Test func tooEarlyToJudgeIsConverging() {
        let d = Self.decide(Self.samples([500, 600, 700]))
        #expect(d.verdict == .converging)
        #expect(d.action == .keepGoing)
    }

    @Test func stallingThrottlesFirstThenRaisesThenAborts() {
        // Reaches 300 MiB at 40 s, then hovers above it for the whole 60 s window.
        let stalled = Self.samples([900, 600, 400, 300, 320, 310, 330, 305, 315, 310])
        let first = Self.decide(stalled)
        #expect(first.verdict == .stalling)
        #expect(first.action == .throttle(percent: 20))
        // Right after an escalation the next waits for a full window.
        #expect(Self.decide(stalled, throttle: 20, lastEscalation: 90).action == .keepGoing)
        #expect(Self.decide(stalled, throttle: 20, lastEscalation: 30).action == .throttle(percent: 30))
        #expect(Self.decide(stalled, throttle: 95, lastEscalation: 30).action == .throttle(percent: 99))
        guard case .abort(let reason) = Self.decide(stalled, throttle: 99, lastEscalation: 30).action else {
            Issue.record("a stall at the maximum throttle must abort")
            return
        }
        #expect(reason.contains("no progress for 60 s"))
    }

    @Test func stallingWithoutAutoConvergeAborts() {
        var policy = Self.policy
        policy.autoConverge = false
        let d = Self.decide(Self.samples([900, 600, 400, 300, 320, 310, 330, 305, 315, 310]), policy: policy)
        #expect(d.action == .abort(reason: "no progress for 60 s"))
    }

    @Test func divergingIsToldApart() {
        // The guest dirties faster than the link sends: remaining grows round after round.
        let d = Self.decide(
            Self.samples([800, 700, 720, 760, 800, 850, 900, 950, 1000, 1100], dirtyRate: 2 << 30, bandwidth: 1 << 30))
        #expect(d.verdict == .diverging)
        #expect(d.action == .throttle(percent: 20))
        #expect(d.inputs["escalation_reason"]?.contains("diverging") == true)
    }

    @Test func deadlineAbortsEvenWhenConverging() {
        // 1 GiB guest, 150 s/GiB: deadline 150 s.
        let samples = Self.samples(Array(stride(from: 2000, to: 1000, by: -60)))  // 17 samples, 170 s, shrinking
        let d = Self.decide(samples, ram: Self.gib)
        #expect(d.verdict == .converging)
        #expect(d.action == .abort(reason: "completion deadline of 150 s passed"))
        #expect(d.inputs["deadline_s"] == "150")
    }

    @Test func roundsExhaustedEscalateEvenWhileShrinking() {
        var policy = Self.policy
        policy.maxRounds = 5
        let d = Self.decide(Self.samples([900, 800, 700, 600, 500]), policy: policy)
        #expect(d.verdict == .converging)
        #expect(d.action == .throttle(percent: 20))
    }

    @Test func deadlineHasAOneGiBFloorAndScalesPerGiB() {
        #expect(MigrationPolicy.defaults.completionDeadlineSeconds(ramBytes: 0) == 150)
        #expect(MigrationPolicy.defaults.completionDeadlineSeconds(ramBytes: 4 * Self.gib) == 600)
        #expect(MigrationPolicy.defaults.completionDeadlineSeconds(ramBytes: 4 * Self.gib + 1) == 750)
    }
}
