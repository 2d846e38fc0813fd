import FerryModel
import FerryStore
import Foundation

/// Gathers what a dry run's forecast needs from the cluster as ferryd knows it (the VM's RAM and
/// dirty rate, its devices' stop-copy sizes) and runs the pure predictions.
enum PlanForecast {
    static func predict(
        _ accepted: AcceptedPlan, hosts: [HypervisorHost], pastProgress: [String: MigrationProgress],
        pastMigrations: [Migration], limits: SchedulerLimits, link: LinkAssumptions = .defaults
    ) -> PlanPrediction {
        let byID = Dictionary(hosts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let samples = progressSamples(pastProgress, pastMigrations)
        let predictions = accepted.migrations.map { planned in
            let host = byID[planned.sourceHostID]
            let vm = host?.vms.first { $0.id == planned.vmID }
            let stopCopy = (vm?.deviceIDs ?? []).reduce(UInt64(0)) { total, id in
                total &+ (host?.devices.first { $0.id == id }?.stopCopyBytes ?? 0)
            }
            return MigrationPrediction.predict(
                ramBytes: planned.ramBytes, dirtyRate: dirtyRate(vm, on: planned.sourceHostID, samples: samples),
                deviceStopCopyBytes: stopCopy, policy: accepted.document.policy, link: link)
        }
        return PlanPrediction.predict(accepted.migrations, predictions: predictions, limits: limits)
    }

    /// The agent's inventory figure when it has one, else the last pre-copy round ferryd recorded
    /// for an earlier migration of the same VM.
    static func dirtyRate(_ vm: VM?, on hostID: String, samples: [String: DirtyRateSample]) -> DirtyRateSample? {
        guard let vm else { return nil }
        if vm.dirtyRateBytesPerSec > 0 {
            return DirtyRateSample(bytesPerSec: vm.dirtyRateBytesPerSec, source: "inventory of \(hostID)")
        }
        return samples[vm.id]
    }

    /// Per VM, the most recent recorded progress that measured a dirty rate.
    static func progressSamples(_ progress: [String: MigrationProgress], _ migrations: [Migration])
        -> [String: DirtyRateSample]
    {
        var latest: [String: (Date, DirtyRateSample)] = [:]
        for m in migrations {
            guard let p = progress[m.id], p.dirtyRateBytesPerSec > 0, p.round > 0 || p.bandwidthBytesPerSec > 0
            else { continue }
            let at = p.updatedAt ?? .distantPast
            if let seen = latest[m.vmID], seen.0 >= at { continue }
            latest[m.vmID] = (
                at,
                DirtyRateSample(bytesPerSec: p.dirtyRateBytesPerSec, source: "migration \(m.id), round \(p.round)")
            )
        }
        return latest.mapValues(\.1)
    }
}
