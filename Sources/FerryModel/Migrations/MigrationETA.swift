/// How long a running migration still needs, for `status` and `watch`.
///
/// In pre-copy the guest keeps dirtying pages while the remaining ones are sent, so the remaining
/// bytes R shrink at the bandwidth B minus the dirty rate D: the rounds form a geometric series
/// whose sum is R / (B − D). With D ≥ B they never shrink and there is no honest ETA, only "not
/// converging" (ferryd's convergence policy then throttles or aborts). In cutover and resuming the
/// vCPUs are stopped, so the rest goes at B. Device data still to send counts as remaining bytes.
/// The estimate is as of the agents' last report (`MigrationProgress.updatedAt`).
public struct MigrationETA: Codable, Sendable, Equatable, DeclaredJSONKeys {
    /// Seconds still needed as of the last report; nil when there is no estimate.
    public var seconds: Double?
    /// Why there is no estimate, or what it rests on.
    public var note: String

    public init(seconds: Double?, note: String) {
        self.seconds = seconds
        self.note = note
    }

    /// The estimate for one migration's phase and latest progress (nil progress: none reported).
    public static func estimate(phase: MigrationPhase, progress: MigrationProgress?) -> MigrationETA {
        switch phase {
        case .completed, .failed, .cancelled, .rolledBack:
            return MigrationETA(seconds: nil, note: "ended")
        case .pending, .scheduled, .preparing:
            return MigrationETA(seconds: nil, note: "not in pre-copy yet")
        case .precopy, .cutover, .resuming:
            break
        }
        guard let progress, progress.updatedAt != nil, progress.bandwidthBytesPerSec > 0 else {
            return MigrationETA(seconds: nil, note: "no bandwidth measured yet")
        }
        let devices = progress.devices.reduce(UInt64(0)) { $0 &+ $1.pendingBytes }
        let remaining = Double(progress.dirtyBytesRemaining) + Double(devices)
        let bandwidth = Double(progress.bandwidthBytesPerSec)
        if phase != .precopy {
            // vCPUs stopped: nothing is dirtied any more.
            return MigrationETA(seconds: remaining / bandwidth, note: "stop-and-copy")
        }
        let dirtyRate = Double(progress.dirtyRateBytesPerSec)
        guard dirtyRate < bandwidth else {
            return MigrationETA(
                seconds: nil,
                note:
                    "not converging: dirty rate \(ByteCount.text(progress.dirtyRateBytesPerSec))/s ≥ bandwidth \(ByteCount.text(progress.bandwidthBytesPerSec))/s"
            )
        }
        return MigrationETA(seconds: remaining / (bandwidth - dirtyRate), note: "converging")
    }

    /// `42s`, `3m05s`, `2h04m`; `-` without an estimate.
    public var text: String {
        guard let seconds else { return "-" }
        return Self.duration(seconds)
    }

    /// A duration for tables: sub-second as `0.4s`, then `s`, `m..s`, `h..m`.
    public static func duration(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded() / 10
        if tenths < 10 { return "\(tenths)s" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m\(pad(whole % 60))s" }
        return "\(whole / 3600)h\(pad(whole % 3600 / 60))m"
    }

    private static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
