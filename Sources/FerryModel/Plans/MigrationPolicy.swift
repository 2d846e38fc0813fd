/// How one migration may behave: the knobs an operator sets per plan. Every default is chosen from
/// what the established orchestrators ship (see docs/shared reference "orchestrators.md") and why:
public struct MigrationPolicy: Codable, Sendable, Equatable {
    /// Budget for the stop-and-copy pause, RAM *and* device state. 300 ms is where QEMU's
    /// `downtime-limit` and Cloud Hypervisor's `downtime_ms` both land; unlike them Ferry counts
    /// the device's stop-copy bytes in the estimate, so the same number is an honest budget.
    public var maxDowntimeMs: UInt64
    /// Per-migration cap on the data channels, bytes/s; 0 = uncapped (KubeVirt, Nova, Proxmox default).
    public var bandwidthBytesPerSec: UInt64
    /// Abort when a migration runs longer than this many seconds per GiB of guest RAM (floor 1 GiB).
    /// 150 s/GiB is KubeVirt's current `completionTimeoutPerGiB`; Nova's 800 s/GiB lets a stuck
    /// migration hold its slots for hours.
    public var completionSecondsPerGiB: UInt64
    /// Escalate when the remaining dirty bytes reach no new low for this long. 150 s as KubeVirt's
    /// `progressTimeout`; measured on remaining bytes (not "any traffic"), the signal whose absence
    /// made Nova's progress timeout misfire.
    public var noProgressWindowSeconds: UInt64
    /// Pre-copy rounds before ferryd escalates as if no progress were made. QEMU has no limit; 30
    /// rounds is well past the point where a converging guest has converged.
    public var maxRounds: UInt32
    /// May ferryd throttle the guest's vCPUs when it does not converge? Off, as in KubeVirt and Nova:
    /// slowing a customer's VM is an operator's decision.
    public var autoConverge: Bool
    /// Data channels (TCP connections) per migration. 2, QEMU's multifd default: two streams keep a
    /// 25 GbE link busy without taking the cores the guest and the other migrations need.
    public var channels: UInt32
    /// Higher runs first among waiting migrations; ties keep plan order. 0 for ordinary work.
    public var priority: Int

    public static let defaults = MigrationPolicy(
        maxDowntimeMs: 300, bandwidthBytesPerSec: 0, completionSecondsPerGiB: 150, noProgressWindowSeconds: 150,
        maxRounds: 30, autoConverge: false, channels: 2, priority: 0)

    /// Limits a plan may set, checked by validation.
    public static let channelRange: ClosedRange<UInt32> = 1...128
    public static let priorityRange: ClosedRange<Int> = -1000...1000

    public init(
        maxDowntimeMs: UInt64, bandwidthBytesPerSec: UInt64, completionSecondsPerGiB: UInt64,
        noProgressWindowSeconds: UInt64, maxRounds: UInt32, autoConverge: Bool, channels: UInt32, priority: Int
    ) {
        self.maxDowntimeMs = maxDowntimeMs
        self.bandwidthBytesPerSec = bandwidthBytesPerSec
        self.completionSecondsPerGiB = completionSecondsPerGiB
        self.noProgressWindowSeconds = noProgressWindowSeconds
        self.maxRounds = maxRounds
        self.autoConverge = autoConverge
        self.channels = channels
        self.priority = priority
    }

    /// The completion deadline for a guest of `ramBytes`, in seconds (at least one GiB's worth).
    public func completionDeadlineSeconds(ramBytes: UInt64) -> UInt64 {
        let gib = max(1, (ramBytes + (1 << 30) - 1) >> 30)
        return gib.multipliedReportingOverflow(by: completionSecondsPerGiB).overflow
            ? UInt64.max : gib * completionSecondsPerGiB
    }
}
