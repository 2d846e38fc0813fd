import Foundation

/// Time as the coordinator reads it. Liveness uses the monotonic reading (immune to wall-clock
/// steps); what is stored and shown uses wall time. Tests inject a manual clock.
public protocol CoordinatorClock: Sendable {
    /// Wall time, for the store and for Welcome.server_time_unix_ns.
    func wallNow() -> Date
    /// Monotonic time since an arbitrary origin.
    func monotonicNow() -> Duration
}

/// The real clocks.
public struct SystemCoordinatorClock: CoordinatorClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func wallNow() -> Date { Date() }
    public func monotonicNow() -> Duration { ContinuousClock.now - origin }
}

extension Date {
    /// Unix nanoseconds, the wire's time unit.
    var unixNanoseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000_000).rounded()) }
}
