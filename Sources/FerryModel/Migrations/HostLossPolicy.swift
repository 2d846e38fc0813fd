/// What ferryd knows about the two agents of an in-flight migration when it checks on them.
public struct HostLossInputs: Sendable, Equatable {
    public var phase: MigrationPhase
    /// An Abort is out (cancel, policy abort, agent failure) and the source's outcome is awaited.
    public var rollingBack: Bool
    public var sourceHost: String
    public var destinationHost: String
    /// How long each side's agent has been unreachable; nil while connected.
    public var sourceUnreachableSeconds: Double?
    public var destinationUnreachableSeconds: Double?
    /// The destination still owes an answer to a command (e.g. the Abort it was sent).
    public var destinationOwesAnswer: Bool
    public var windowSeconds: Double

    public init(
        phase: MigrationPhase, rollingBack: Bool, sourceHost: String, destinationHost: String,
        sourceUnreachableSeconds: Double?, destinationUnreachableSeconds: Double?, destinationOwesAnswer: Bool,
        windowSeconds: Double
    ) {
        self.phase = phase
        self.rollingBack = rollingBack
        self.sourceHost = sourceHost
        self.destinationHost = destinationHost
        self.sourceUnreachableSeconds = sourceUnreachableSeconds
        self.destinationUnreachableSeconds = destinationUnreachableSeconds
        self.destinationOwesAnswer = destinationOwesAnswer
        self.windowSeconds = windowSeconds
    }
}

/// What ferryd does about an agent that stays away.
public enum HostLossAction: Sendable, Equatable {
    case wait
    /// Admitted but not started: give the scheduler slots back (the phase machine's `requeued`).
    case requeue(reason: String)
    /// Roll back: Abort to both agents (the reachable one acts now, the other on its return).
    case abort(reason: String)
    /// Give up on hearing from this agent: the phase machine's `agentFailed`, which ends the
    /// migration (`failed`) during a rollback or after the point of no return.
    case giveUp(role: MigrationRole, reason: String)
}

public struct HostLossDecision: Sendable, Equatable {
    public var action: HostLossAction
    public var inputs: [String: String]
}

/// ferryd's rule for agents that stay unreachable during a migration. Pure.
///
/// An admitted migration that has not started holds scheduler slots; a host gone for the window
/// sends it back to pending (no command was sent, so there is nothing to undo).
/// Agents work through a short absence (a ferryd restart, a flapping link), so nothing happens
/// before the window passes. The source agent owns the VM until the destination confirms, and it
/// rolls back by itself when its data channels fail (FERRY_STREAM_IO_TIMEOUT_MS), so:
/// - before the point of no return, either side gone for the window starts a rollback; when the
///   destination is the one gone, the source's own report ends it `rolled_back`;
/// - when the source is the one gone, nothing can confirm where the VM runs: once the destination
///   has answered the Abort (so it cannot be running the VM) or is gone too, the migration ends
///   `failed`, saying the source rolls back on its own; the source's report on its return is
///   recorded then, by a restarted ferryd too (`GivenUpAgent`);
/// - after the point of no return the VM runs on the destination: a lost source ends it `failed`
///   (its release unconfirmed); a lost destination changes nothing, the source's report decides.
public enum HostLossPolicy {
    /// 60 s: twice libvirt's keepalive verdict (5 s × 5 misses), so a ferryd restart or a link
    /// flap never costs a migration, and well inside KubeVirt's 150 s progress timeout.
    public static let defaultWindowSeconds: Double = 60

    public static func decide(_ i: HostLossInputs) -> HostLossDecision {
        var inputs: [String: String] = [
            "decision": "host_unreachable", "window_s": format(i.windowSeconds), "phase": i.phase.rawValue,
            "rolling_back": "\(i.rollingBack)",
        ]
        if let s = i.sourceUnreachableSeconds { inputs["source_unreachable_s"] = format(s) }
        if let s = i.destinationUnreachableSeconds { inputs["destination_unreachable_s"] = format(s) }
        func decision(_ action: HostLossAction) -> HostLossDecision { HostLossDecision(action: action, inputs: inputs) }

        let inFlight: Set<MigrationPhase> = [.scheduled, .preparing, .precopy, .cutover, .resuming]
        guard inFlight.contains(i.phase) else { return decision(.wait) }
        let sourceLost = i.sourceUnreachableSeconds.map { $0 >= i.windowSeconds } ?? false
        let destinationLost = i.destinationUnreachableSeconds.map { $0 >= i.windowSeconds } ?? false
        let source = "source host \(i.sourceHost) unreachable for \(format(i.sourceUnreachableSeconds ?? 0)) s"
        let destination =
            "destination host \(i.destinationHost) unreachable for \(format(i.destinationUnreachableSeconds ?? 0)) s"

        if i.phase == .scheduled {
            // Nothing sent yet, so nothing to roll back; just do not hold slots for a host that is gone.
            switch (sourceLost, destinationLost) {
            case (true, true): return decision(.requeue(reason: "\(source) and \(destination)"))
            case (true, false): return decision(.requeue(reason: source))
            case (false, true): return decision(.requeue(reason: destination))
            case (false, false): return decision(.wait)
            }
        }
        if i.phase == .resuming {
            guard sourceLost else { return decision(.wait) }
            return decision(
                .giveUp(
                    role: .source,
                    reason:
                        "\(source) after the destination confirmed: the VM runs on \(i.destinationHost), the source's release is unconfirmed"
                ))
        }
        if !i.rollingBack {
            switch (sourceLost, destinationLost) {
            case (true, true): return decision(.abort(reason: "\(source) and \(destination)"))
            case (true, false): return decision(.abort(reason: source))
            case (false, true): return decision(.abort(reason: destination))
            case (false, false): return decision(.wait)
            }
        }
        // Rolling back: only the source can say it has; without it, stop once the destination is settled.
        guard sourceLost, !i.destinationOwesAnswer || destinationLost else { return decision(.wait) }
        return decision(
            .giveUp(
                role: .source,
                reason:
                    "\(source): its agent rolls back by itself when its peer is gone; its report is recorded when it returns"
            ))
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int64(seconds)) : String((seconds * 10).rounded() / 10)
    }
}
