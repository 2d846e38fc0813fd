import Foundation
import Synchronization

/// What is known of one connection's agent being alive: when a frame last came in, and the last
/// heartbeat not yet written to the store.
struct HostLiveness: Sendable, Equatable {
    /// Monotonic time of the last frame that counts as a sign of life.
    var lastReceived: Duration
    /// The newest heartbeat since the last `takeHeartbeat()`.
    var unwrittenHeartbeat: Heartbeat?

    /// What a heartbeat tells the store: the host's free memory, and when (wall time) it came.
    struct Heartbeat: Sendable, Equatable {
        var freeMemoryBytes: UInt64
        var at: Date
    }
}

/// One agent connection's liveness record, shared by the NIO event loop and the `HostRegistry`.
///
/// Heartbeats are most of the control link's traffic (1,000 agents: 1,000 a second). Sending each
/// one from the event loop to a task and on to the registry actor cost more CPU in thread hops than
/// the work itself, so `ControlFrameHandler` answers them on the event loop and records them here,
/// under a lock held for a few field writes. The registry reads `lastReceived` in its sweep and
/// takes the unwritten heartbeats once per interval for one batched `last_seen` write.
///
/// The gate is *armed* only while the session is active (Welcome sent, not closed or evicted): a
/// heartbeat outside that window takes the session's path, which refuses or ignores it as before.
/// It is also held while frames passed on to the session are not yet consumed, so an echo never
/// overtakes what came before it (an agent reading its echo knows its inventory was taken).
final class HeartbeatGate: Sendable {
    private struct State {
        var armed = false
        /// Runs of frames passed on to the session and not yet consumed by it.
        var runsInFlight = 0
        var liveness: HostLiveness
    }

    private let state: Mutex<State>

    init(now: Duration) {
        state = Mutex(State(liveness: HostLiveness(lastReceived: now)))
    }

    var isArmed: Bool { state.withLock { $0.armed } }
    var lastReceived: Duration { state.withLock { $0.liveness.lastReceived } }

    /// The session is active: heartbeats may be answered on the event loop from now on.
    func arm() { state.withLock { $0.armed = true } }

    /// The session closed or the registry dropped it: heartbeats go the session's way again.
    func disarm() { state.withLock { $0.armed = false } }

    /// The handler passed a run of frames on to the session.
    func passedOn() { state.withLock { $0.runsInFlight += 1 } }

    /// The session consumed one run.
    func consumed() { state.withLock { $0.runsInFlight = max(0, $0.runsInFlight - 1) } }

    /// Records a heartbeat if armed and nothing passed on is still in flight; false means it was
    /// not recorded and must take the slow path.
    func recordHeartbeatIfArmed(freeMemoryBytes: UInt64, now: Duration, wallNow: Date) -> Bool {
        state.withLock { s in
            guard s.armed, s.runsInFlight == 0 else { return false }
            s.liveness.lastReceived = now
            s.liveness.unwrittenHeartbeat = .init(freeMemoryBytes: freeMemoryBytes, at: wallNow)
            return true
        }
    }

    /// Records a heartbeat that came the session's way (before the gate was armed).
    func recordHeartbeat(freeMemoryBytes: UInt64, now: Duration, wallNow: Date) {
        state.withLock { s in
            s.liveness.lastReceived = now
            s.liveness.unwrittenHeartbeat = .init(freeMemoryBytes: freeMemoryBytes, at: wallNow)
        }
    }

    /// Any other sign of life (registration, inventory, a migration report).
    func noteReceived(now: Duration) {
        state.withLock { s in s.liveness.lastReceived = max(s.liveness.lastReceived, now) }
    }

    /// The heartbeat not yet written, once: the next call returns nil until another arrives.
    func takeHeartbeat() -> HostLiveness.Heartbeat? {
        state.withLock { s in
            defer { s.liveness.unwrittenHeartbeat = nil }
            return s.liveness.unwrittenHeartbeat
        }
    }
}
