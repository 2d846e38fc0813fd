import Foundation

/// A measured dirty rate and where it came from (for the operator: "inventory of host-a",
/// "migration plan-1234-1, round 4").
public struct DirtyRateSample: Codable, Sendable, Equatable {
    public var bytesPerSec: UInt64
    public var source: String

    public init(bytesPerSec: UInt64, source: String) {
        self.bytesPerSec = bytesPerSec
        self.source = source
    }
}

/// What a dry run assumes about the network when the policy does not cap the bandwidth.
public struct LinkAssumptions: Codable, Sendable, Equatable {
    /// One data channel's throughput: docs/benchmarks.md measured 1222 MiB/s for one channel and
    /// 1503 MiB/s for two on loopback; 750 MiB/s per channel is the two-channel figure per channel.
    public var perChannelBytesPerSec: UInt64
    /// The hosts' link: 10 Gb/s, the smallest NIC a migration network has in practice.
    public var linkBytesPerSec: UInt64

    public static let defaults = LinkAssumptions(perChannelBytesPerSec: 750 << 20, linkBytesPerSec: 1_250_000_000)

    public init(perChannelBytesPerSec: UInt64, linkBytesPerSec: UInt64) {
        self.perChannelBytesPerSec = perChannelBytesPerSec
        self.linkBytesPerSec = linkBytesPerSec
    }
}

/// How a migration is predicted to end.
public enum PredictedOutcome: String, Codable, Sendable, Equatable {
    /// A round's expected downtime fits the budget: the source cuts over by itself.
    case converges
    /// `max_rounds` reached first: the source cuts over anyway, over the downtime budget.
    case overBudgetAtMaxRounds = "over_budget_at_max_rounds"
    /// The completion deadline passes first: ferryd aborts and the VM stays on the source.
    case deadline
}

/// A dry run's forecast for one migration: the same round loop the source agent runs
/// (agents/src/migration_source.c), fed with the reported RAM, a dirty-rate sample, the devices'
/// stop-copy sizes and the policy. Pure.
///
/// Model: round 0 sends all of RAM; each round lasts sent/B and leaves as dirty the distinct
/// pages the guest wrote meanwhile, RAM·(1 − e^(−D·t/RAM)) (random writes revisit pages, so
/// dirtying saturates at RAM rather than growing without bound); after each round the expected
/// downtime is (dirty + device stop-copy bytes)/B and the source cuts over when it fits the budget
/// or at `max_rounds`, passing up once a fitting estimate over 1 ms for one more round
/// predicted to halve it (agents/src/cutover_rule.h, the same formula).
/// ferryd aborts at the completion deadline. Zero pages are not known in advance, so they count
/// as full pages: the forecast errs long.
public struct MigrationPrediction: Codable, Sendable, Equatable {
    public var bandwidthBytesPerSec: UInt64
    public var dirtyRateBytesPerSec: UInt64
    /// Pre-copy rounds before the cutover (round 0 included).
    public var rounds: UInt32
    public var precopySeconds: Double
    /// Predicted stop-and-copy pause, RAM and devices.
    public var downtimeMs: Double
    /// Pre-copy plus downtime (at the deadline: the deadline).
    public var durationSeconds: Double
    public var outcome: PredictedOutcome
    /// What the forecast assumed or found worth saying, in words.
    public var notes: [String]

    public var fitsBudget: Bool { outcome == .converges }

    public init(
        bandwidthBytesPerSec: UInt64, dirtyRateBytesPerSec: UInt64, rounds: UInt32, precopySeconds: Double,
        downtimeMs: Double, durationSeconds: Double, outcome: PredictedOutcome, notes: [String]
    ) {
        self.bandwidthBytesPerSec = bandwidthBytesPerSec
        self.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        self.rounds = rounds
        self.precopySeconds = precopySeconds
        self.downtimeMs = downtimeMs
        self.durationSeconds = durationSeconds
        self.outcome = outcome
        self.notes = notes
    }

    /// An estimate at or below this is taken as it is (agents/src/cutover_rule.h, FERRY_CUTOVER_FLOOR_US).
    static let cutoverFloorSeconds = 0.001

    public static func predict(
        ramBytes: UInt64, dirtyRate: DirtyRateSample?, deviceStopCopyBytes: UInt64, policy: MigrationPolicy,
        link: LinkAssumptions = .defaults
    ) -> MigrationPrediction {
        var notes: [String] = []
        let (bandwidth, limit) = bandwidth(policy: policy, link: link)
        notes.append("bandwidth \(ByteCount.text(bandwidth))/s (\(limit))")
        let rate: UInt64
        if let dirtyRate {
            rate = dirtyRate.bytesPerSec
            notes.append("dirty rate \(ByteCount.text(rate))/s from \(dirtyRate.source)")
        } else {
            rate = 0
            notes.append("no dirty-rate sample: assumed 0, so the forecast is a lower bound")
        }
        if deviceStopCopyBytes > 0 {
            notes.append("device stop-copy \(ByteCount.text(deviceStopCopyBytes)) in the downtime")
        }

        let b = Double(bandwidth)
        let ram = Double(ramBytes)
        let budget = Double(policy.maxDowntimeMs) / 1000
        let deadline = Double(policy.completionDeadlineSeconds(ramBytes: ramBytes))
        var sent = ram
        var elapsed = 0.0
        var round: UInt32 = 0
        var downtime = 0.0
        var outcome = PredictedOutcome.converges
        var extraRoundTaken = false
        while true {
            let t = sent / b
            elapsed += t
            let dirty = ram > 0 ? ram * (1 - exp(-Double(rate) * t / ram)) : 0
            downtime = (dirty + Double(deviceStopCopyBytes)) / b
            if elapsed >= deadline {
                outcome = .deadline
                break
            }
            let lastRound = round + 1 >= max(policy.maxRounds, 1)
            if downtime <= budget {
                let ramSeconds = dirty / b
                let predictedNext = t > 0 ? ramSeconds * ramSeconds / t + Double(deviceStopCopyBytes) / b : .infinity
                let worthIt = downtime > Self.cutoverFloorSeconds && predictedNext <= downtime / 2
                if lastRound || extraRoundTaken || !worthIt { break }
                extraRoundTaken = true
                notes.append(
                    "one more round: it is predicted to cut the downtime from "
                        + String(format: "%.1f ms to %.1f ms", downtime * 1000, predictedNext * 1000))
            } else if lastRound {
                outcome = .overBudgetAtMaxRounds
                break
            }
            sent = dirty
            round += 1
        }
        let rounds = round + 1
        switch outcome {
        case .converges: break
        case .overBudgetAtMaxRounds:
            notes.append(
                "does not fit the \(policy.maxDowntimeMs) ms budget within \(policy.maxRounds) rounds: cuts over anyway"
            )
        case .deadline:
            notes.append("passes the \(Int(deadline)) s completion deadline: ferryd aborts, the VM stays on the source")
        }
        if Double(rate) >= b {
            notes.append("dirty rate ≥ bandwidth: not converging (the no-progress window escalates)")
        }
        return MigrationPrediction(
            bandwidthBytesPerSec: bandwidth, dirtyRateBytesPerSec: rate, rounds: rounds,
            precopySeconds: min(elapsed, deadline), downtimeMs: downtime * 1000,
            durationSeconds: outcome == .deadline ? deadline : elapsed + downtime, outcome: outcome, notes: notes)
    }

    /// The per-migration bandwidth: the policy cap, the channels' throughput and the link, whichever
    /// is lowest, and which one it was.
    public static func bandwidth(policy: MigrationPolicy, link: LinkAssumptions) -> (UInt64, String) {
        let channels = UInt64(max(policy.channels, 1))
        let (perChannels, overflow) = channels.multipliedReportingOverflow(by: link.perChannelBytesPerSec)
        var candidates: [(UInt64, String)] = [
            (overflow ? UInt64.max : perChannels, "\(channels) channel\(channels == 1 ? "" : "s")"),
            (link.linkBytesPerSec, "assumed link"),
        ]
        if policy.bandwidthBytesPerSec > 0 { candidates.insert((policy.bandwidthBytesPerSec, "policy cap"), at: 0) }
        let best = candidates.min { $0.0 < $1.0 } ?? (1, "")
        return (max(best.0, 1), best.1)
    }
}
