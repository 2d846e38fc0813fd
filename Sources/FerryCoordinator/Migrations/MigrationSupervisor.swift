import FerryModel
import FerryStore
import Foundation
import Logging

/// Owns the in-flight migrations: admits pending ones (`Scheduler`, caps, waves), runs one
/// `MigrationDriver` per admitted migration, routes agent reports to them, re-attaches what was in
/// flight when ferryd started, and answers cancel and "why does it wait".
public actor MigrationSupervisor: MigrationReportSink {
    private let context: DriverContext
    /// Admission caps; dry runs place their forecast timeline under the same ones.
    public nonisolated let limits: SchedulerLimits
    private var drivers: [String: MigrationDriver] = [:]
    private var waiting: [String: WaitReason] = [:]

    public init(context: DriverContext, limits: SchedulerLimits = .defaults) {
        self.context = context
        self.limits = limits
    }

    /// Why each pending migration still waits, as of the last scheduling pass.
    public func waitReasons() -> [String: String] { waiting.mapValues(\.description) }

    /// Live progress of a migration that has a driver (fresher than the store's copy).
    public func liveProgress(_ migrationID: String) async -> MigrationProgress? {
        await drivers[migrationID]?.currentProgress
    }

    /// `liveProgress` of each of `migrationIDs` that has a driver, in one call.
    public func liveProgress(of migrationIDs: [String]) async -> [String: MigrationProgress] {
        var result: [String: MigrationProgress] = [:]
        for id in migrationIDs {
            guard let driver = drivers[id] else { continue }
            result[id] = await driver.currentProgress
        }
        return result
    }

    /// At start: a driver for every migration that had started, resumed from the store, and one for
    /// every ended migration whose given-up agent has not reported back (`GivenUpAgent`).
    public func recover() async {
        let unfinished: [Migration]
        do {
            unfinished = try context.store.unfinishedMigrations()
        } catch {
            context.logger.error("cannot read unfinished migrations", metadata: ["error": "\(error)"])
            return
        }
        for migration in unfinished where migration.phase != .pending {
            guard let driver = driver(for: migration) else { continue }
            context.logger.info(
                "re-attaching migration", metadata: ["migration": "\(migration.id)", "phase": "\(migration.phase)"])
            await driver.recover()
        }
        await recoverGivenUpAgents()
    }

    /// The agents a previous ferryd gave up on and still awaited, derived from the history: their
    /// return is reconciled exactly as without the restart.
    private func recoverGivenUpAgents() async {
        let awaited: [String: [MigrationRole: GivenUpAgent]]
        do {
            awaited = GivenUpAgent.awaited(in: try context.store.agentWaitEvents())
        } catch {
            context.logger.error("cannot read the agents given up on", metadata: ["error": "\(error)"])
            return
        }
        for (id, agents) in awaited.sorted(by: { $0.key < $1.key }) {
            let migration: Migration?
            do {
                migration = try context.store.migration(id: id)
            } catch {
                context.logger.error("cannot load migration", metadata: ["migration": "\(id)", "error": "\(error)"])
                continue
            }
            guard let migration, migration.phase.isTerminal,
                let driver = driver(for: migration, givenUp: agents)
            else { continue }
            context.logger.info(
                "awaiting the report of agents given up on",
                metadata: [
                    "migration": "\(id)", "roles": "\(agents.keys.map(\.rawValue).sorted().joined(separator: ","))",
                ])
            await driver.recover()
        }
    }

    private func driver(for migration: Migration, givenUp: [MigrationRole: GivenUpAgent] = [:]) -> MigrationDriver? {
        if let existing = drivers[migration.id] { return existing }
        do {
            guard let plan = try context.store.plan(id: migration.planID) else { return nil }
            let driver = MigrationDriver(
                migration: migration, policy: plan.policy,
                runtime: try context.store.runtime(migrationID: migration.id),
                progress: try context.store.progress(migrationID: migration.id), givenUp: givenUp, context: context)
            drivers[migration.id] = driver
            return driver
        } catch {
            context.logger.error(
                "cannot load migration", metadata: ["migration": "\(migration.id)", "error": "\(error)"])
            return nil
        }
    }

    /// One scheduling pass: admit what the caps allow, start admitted ones whose hosts are ready,
    /// drop drivers of ended migrations.
    public func schedulePass() async {
        for (id, driver) in drivers where await driver.canBeDropped { drivers[id] = nil }
        let unfinished: [Migration]
        let planOrder: [String]
        let unreachable: Set<String>
        do {
            unfinished = try context.store.unfinishedMigrations()
            planOrder = try context.store.plans().map(\.id)
            var hosts = Set(unfinished.flatMap { [$0.sourceHostID, $0.destinationHostID] })
            for host in hosts where await context.link.isConnected(host) { hosts.remove(host) }
            unreachable = hosts
        } catch {
            context.logger.error("scheduling pass cannot read the store", metadata: ["error": "\(error)"])
            return
        }
        let decision = Scheduler.schedule(
            unfinished, planOrder: planOrder, unreachableHosts: unreachable, limits: limits)
        waiting = decision.waiting
        let byID = Dictionary(unfinished.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in decision.admit {
            guard let migration = byID[id], let driver = driver(for: migration) else { continue }
            await driver.handle(.admitted)
        }
        for migration in unfinished where migration.phase == .scheduled || decision.admit.contains(migration.id) {
            guard let driver = driver(for: migration) else { continue }
            _ = await driver.startIfReady()
        }
        for driver in drivers.values { await driver.tick() }
    }

    /// Passes every `interval` until cancelled.
    public func run(every interval: Duration = .milliseconds(500)) async {
        await recover()
        while !Task.isCancelled {
            await schedulePass()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// Cancels one migration: at once before it started, with a rollback before the point of no
    /// return, refused after it.
    public func cancel(migrationID: String, reason: String) async -> Result<MigrationPhase, CancelRefused> {
        let migration: Migration?
        do {
            migration = try context.store.migration(id: migrationID)
        } catch {
            return .failure(.store("\(error)"))
        }
        guard let migration else { return .failure(.unknown(migrationID)) }
        guard let driver = driver(for: migration) else { return .failure(.store("cannot load \(migrationID)")) }
        switch await driver.cancel(reason: reason) {
        case .success: return .success(await driver.phase)
        case .failure(let rejected): return .failure(.refused(rejected.reason))
        }
    }

    public func deliver(_ report: MigrationReport, from hostID: String) async {
        guard let driver = drivers[report.migrationID] else {
            context.logger.debug(
                "report for no migration in flight",
                metadata: ["migration": "\(report.migrationID)", "host": "\(hostID)"])
            return
        }
        await driver.deliver(report, from: hostID)
    }

    public func hostConnected(_ hostID: String) async {
        for driver in drivers.values { await driver.hostConnected(hostID) }
    }

    public func hostDisconnected(_ hostID: String) async {
        context.logger.info(
            "host disconnected; its in-flight migrations wait for it up to the host-loss window",
            metadata: ["host": "\(hostID)", "window": "\(context.hostLossWindow)"])
    }
}

/// Why a cancel did not happen.
public enum CancelRefused: Error, Sendable, Equatable, CustomStringConvertible {
    case unknown(String)
    case refused(String)
    case store(String)

    public var description: String {
        switch self {
        case .unknown(let id): "no migration '\(id)' is known"
        case .refused(let reason): reason
        case .store(let reason): "store: \(reason)"
        }
    }
}
