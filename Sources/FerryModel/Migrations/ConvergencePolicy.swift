/// One pre-copy round as the source agent reported it (a `ferry.v1.Progress`), timed from the
/// start of pre-copy.
public struct ProgressSample: Sendable, Equatable {
    public var seconds: Double
    public var round: UInt32
    public var dirtyBytesRemaining: UInt64
    public var dirtyRateBytesPerSec: UInt64
    public var bandwidthBytesPerSec: UInt64

    public init(
        seconds: Double, round: UInt32, dirtyBytesRemaining: UInt64, dirtyRateBytesPerSec: UInt64,
        bandwidthBytesPerSec: UInt64
    ) {
        self.seconds = seconds
        self.round = round
        self.dirtyBytesRemaining = dirtyBytesRemaining
        self.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        self.bandwidthBytesPerSec = bandwidthBytesPerSec
    }
}

/// How pre-copy is going.
public enum ConvergenceVerdict: String, Sendable, Equatable {
    /// Remaining bytes reached a new low within the no-progress window (or it is too early to tell).
    case converging
    /// No new low for a whole window, but not growing either.
    case stalling
    /// No new low for a whole window and the guest dirties memory as fast as it is sent (or faster).
    case diverging
}

/// What ferryd does about it. (The source agent cuts over by itself when a round fits the downtime
/// budget; ferryd only owns the slow escalations.)
public enum ConvergenceAction: Sendable, Equatable {
    case keepGoing
    /// Raise the auto-converge throttle to this share of vCPU time.
    case throttle(percent: UInt32)
    case abort(reason: String)
}

/// A decision with the inputs it was made from, recorded as an event.
public struct ConvergenceDecision: Sendable, Equatable {
    public var verdict: ConvergenceVerdict
    public var action: ConvergenceAction
    public var inputs: [String: String]
}

/// ferryd's convergence policy, a pure function of the recorded rounds.
///
/// Stall detection looks at the *lowest* remaining byte count, not at traffic: a migration that
/// keeps sending the same hot pages is busy but not progressing (Nova removed its progress timeout
/// because "any progress" misfired). Escalation ladder: throttle (20 %, then +10 % per window up
/// to 99 %, QEMU's auto-converge steps) when allowed, then abort; the completion deadline aborts
/// regardless. After an escalation the next one waits a full window, so each step gets its chance.
public enum ConvergencePolicy {
    public static let initialThrottlePercent: UInt32 = 20
    public static let throttleStepPercent: UInt32 = 10
    public static let maxThrottlePercent: UInt32 = 99

    public static func decide(
        policy: MigrationPolicy, ramBytes: UInt64, samples: [ProgressSample], now: Double, throttlePercent: UInt32,
        lastEscalation: Double?
    ) -> ConvergenceDecision {
        let window = Double(policy.noProgressWindowSeconds)
        let deadline = Double(policy.completionDeadlineSeconds(ramBytes: ramBytes))
        let verdict = self.verdict(samples: samples, now: now, window: window)
        var inputs: [String: String] = [
            "verdict": verdict.rawValue, "elapsed_s": format(now), "deadline_s": format(deadline),
            "window_s": format(window), "throttle_percent": "\(throttlePercent)",
        ]
        if let last = samples.last {
            inputs["round"] = "\(last.round)"
            inputs["dirty_bytes_remaining"] = "\(last.dirtyBytesRemaining)"
            inputs["dirty_rate_bytes_per_sec"] = "\(last.dirtyRateBytesPerSec)"
            inputs["bandwidth_bytes_per_sec"] = "\(last.bandwidthBytesPerSec)"
        }
        if let best = samples.map(\.dirtyBytesRemaining).min() { inputs["lowest_remaining_bytes"] = "\(best)" }
        func decision(_ action: ConvergenceAction) -> ConvergenceDecision {
            ConvergenceDecision(verdict: verdict, action: action, inputs: inputs)
        }

        if now >= deadline {
            return decision(.abort(reason: "completion deadline of \(format(deadline)) s passed"))
        }
        // An escalation gets a full window to show its effect before the next one.
        if let lastEscalation, now - lastEscalation < window { return decision(.keepGoing) }
        let roundsExhausted = (samples.last?.round ?? 0) >= policy.maxRounds
        guard verdict != .converging || roundsExhausted else { return decision(.keepGoing) }

        let why =
            roundsExhausted && verdict == .converging
            ? "\(policy.maxRounds) rounds without fitting the downtime budget"
            : verdict == .diverging
                ? "diverging: the guest dirties memory as fast as it is sent"
                : "no progress for \(format(window)) s"
        if policy.autoConverge && throttlePercent < maxThrottlePercent {
            let next =
                throttlePercent == 0
                ? initialThrottlePercent : min(maxThrottlePercent, throttlePercent + throttleStepPercent)
            inputs["escalation_reason"] = why
            return decision(.throttle(percent: next))
        }
        return decision(.abort(reason: policy.autoConverge ? "\(why), throttle already at \(throttlePercent) %" : why))
    }

    /// Converging unless a whole window of history shows no new low of the remaining bytes.
    public static func verdict(samples: [ProgressSample], now: Double, window: Double) -> ConvergenceVerdict {
        let windowStart = now - window
        let before = samples.filter { $0.seconds <= windowStart }
        let within = samples.filter { $0.seconds > windowStart }
        guard let bestBefore = before.map(\.dirtyBytesRemaining).min() else { return .converging }
        if let bestWithin = within.map(\.dirtyBytesRemaining).min(), bestWithin < bestBefore { return .converging }
        let recent = within.isEmpty ? Array(before.suffix(1)) : within
        let growing = zip(recent, recent.dropFirst()).allSatisfy { $0.dirtyBytesRemaining < $1.dirtyBytesRemaining }
        let outpaced = recent.allSatisfy {
            $0.dirtyRateBytesPerSec >= $0.bandwidthBytesPerSec && $0.bandwidthBytesPerSec > 0
        }
        return (recent.count >= 2 && growing) || outpaced ? .diverging : .stalling
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int64(seconds)) : String(seconds)
    }
}
