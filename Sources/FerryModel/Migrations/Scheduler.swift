/// Admission limits. Defaults from KubeVirt (`parallelMigrationsPerCluster` 5,
/// `parallelOutboundMigrationsPerNode` 2), with the same cap inbound so no destination is flooded.
public struct SchedulerLimits: Sendable, Equatable, Codable {
    public var cluster: Int
    public var outboundPerHost: Int
    public var inboundPerHost: Int

    public static let defaults = SchedulerLimits(cluster: 5, outboundPerHost: 2, inboundPerHost: 2)

    public init(cluster: Int, outboundPerHost: Int, inboundPerHost: Int) {
        self.cluster = cluster
        self.outboundPerHost = outboundPerHost
        self.inboundPerHost = inboundPerHost
    }
}

/// Why a pending migration is not admitted yet.
public enum WaitReason: Sendable, Equatable, CustomStringConvertible {
    case clusterCap(active: Int, limit: Int)
    case outboundCap(host: String, active: Int, limit: Int)
    case inboundCap(host: String, active: Int, limit: Int)
    /// Its plan still runs migrations of an earlier wave.
    case earlierWave(wave: Int, unfinished: Int)
    case hostUnreachable(host: String)

    public var description: String {
        switch self {
        case .clusterCap(let active, let limit): "cluster cap: \(active) of \(limit) migrations running"
        case .outboundCap(let host, let active, let limit):
            "source \(host) at its outbound cap: \(active) of \(limit) running"
        case .inboundCap(let host, let active, let limit):
            "destination \(host) at its inbound cap: \(active) of \(limit) running"
        case .earlierWave(let wave, let unfinished):
            "waits for wave \(wave) of its plan: \(unfinished) migration\(unfinished == 1 ? "" : "s") not finished"
        case .hostUnreachable(let host): "host \(host) is unreachable"
        }
    }
}

/// The scheduler's answer: what to admit now (in order) and why each other pending migration waits.
public struct SchedulingDecision: Sendable, Equatable {
    public var admit: [String]
    public var waiting: [String: WaitReason]
}

/// Admission of pending migrations, pure. O(migrations log migrations) per pass.
///
/// Order: priority (higher first), then plan submission order, then position in the plan. A
/// migration blocked by its hosts' caps does not hold back later ones on other hosts (no
/// head-of-line blocking: one busy host cannot starve the cluster, KubeVirt PR #8701).
public enum Scheduler {
    /// `reasons: false` leaves `waiting` incomplete and stops at the cluster cap, where nothing
    /// more can be admitted: for callers that only want `admit` (a dry run's timeline runs one pass
    /// per completion, thousands for a large plan).
    public static func schedule(
        _ migrations: [Migration], planOrder: [String], unreachableHosts: Set<String> = [],
        limits: SchedulerLimits = .defaults, reasons: Bool = true
    ) -> SchedulingDecision {
        var active = 0
        var outbound: [String: Int] = [:]
        var inbound: [String: Int] = [:]
        // Per plan: how many unfinished migrations each wave has.
        var unfinishedByWave: [String: [Int: Int]] = [:]
        for m in migrations where !m.phase.isTerminal {
            unfinishedByWave[m.planID, default: [:]][m.wave, default: 0] += 1
            if m.phase.isActive {
                active += 1
                outbound[m.sourceHostID, default: 0] += 1
                inbound[m.destinationHostID, default: 0] += 1
            }
        }
        let rank = Dictionary(planOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let pending = migrations.filter { $0.phase == .pending }.sorted {
            ($1.priority, rank[$0.planID] ?? Int.max, $0.position) < (
                $0.priority, rank[$1.planID] ?? Int.max, $1.position
            )
        }

        var decision = SchedulingDecision(admit: [], waiting: [:])
        for m in pending {
            if !reasons && active >= limits.cluster { break }
            if let earlier = earliestUnfinishedWave(before: m.wave, in: unfinishedByWave[m.planID]) {
                decision.waiting[m.id] = .earlierWave(wave: earlier.key, unfinished: earlier.value)
            } else if unreachableHosts.contains(m.sourceHostID) {
                decision.waiting[m.id] = .hostUnreachable(host: m.sourceHostID)
            } else if unreachableHosts.contains(m.destinationHostID) {
                decision.waiting[m.id] = .hostUnreachable(host: m.destinationHostID)
            } else if active >= limits.cluster {
                decision.waiting[m.id] = .clusterCap(active: active, limit: limits.cluster)
            } else if case let n = outbound[m.sourceHostID, default: 0], n >= limits.outboundPerHost {
                decision.waiting[m.id] = .outboundCap(host: m.sourceHostID, active: n, limit: limits.outboundPerHost)
            } else if case let n = inbound[m.destinationHostID, default: 0], n >= limits.inboundPerHost {
                decision.waiting[m.id] = .inboundCap(host: m.destinationHostID, active: n, limit: limits.inboundPerHost)
            } else {
                decision.admit.append(m.id)
                active += 1
                outbound[m.sourceHostID, default: 0] += 1
                inbound[m.destinationHostID, default: 0] += 1
            }
        }
        return decision
    }

    /// The lowest wave below `wave` with unfinished migrations, and how many (no allocation: this
    /// runs for every pending migration of every pass).
    static func earliestUnfinishedWave(before wave: Int, in waves: [Int: Int]?) -> (key: Int, value: Int)? {
        var earliest: (key: Int, value: Int)?
        for (w, unfinished) in waves ?? [:] where w < wave && unfinished > 0 {
            if earliest.map({ w < $0.key }) ?? true { earliest = (w, unfinished) }
        }
        return earliest
    }
}
