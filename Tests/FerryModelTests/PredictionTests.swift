import FerryModel
import Foundation
import Testing

/// Dry-run forecasts: one migration's rounds, downtime and duration; a plan on the scheduler's timeline.
@Suite("Plan validate predictions")
struct PredictionTests {
    static let mib: UInt64 = 1 << 20
    static let gib: UInt64 = 1 << 30
    /// 100 MiB/s cap, 300 ms budget, 30 rounds, 150 s/GiB.
    static let policy = MigrationPolicy(
        maxDowntimeMs: 300, bandwidthBytesPerSec: 100 << 20, completionSecondsPerGiB: 150,
        noProgressWindowSeconds: 150, maxRounds: 30, autoConverge: false, channels: 2, priority: 0)

    static func predict(
        ram: UInt64 = 1 << 30, dirty: UInt64?, devices: UInt64 = 0, policy: MigrationPolicy = policy
    ) -> MigrationPrediction {
        MigrationPrediction.predict(
            ramBytes: ram, dirtyRate: dirty.map { DirtyRateSample(bytesPerSec: $0, source: "test") },
            deviceStopCopyBytes: devices, policy: policy)
    }

    @Test func idleGuestIsOneRoundAtTheCappedBandwidth() {
        let p = Self.predict(dirty: 0)
        #expect(p.bandwidthBytesPerSec == 100 << 20)
        #expect(p.rounds == 1)
        #expect(p.precopySeconds == 10.24)
        #expect(p.downtimeMs == 0)
        #expect(p.outcome == .converges)
        #expect(p.durationSeconds == 10.24)
    }

    @Test func withoutASampleItSaysSoAndAssumesZero() {
        let p = Self.predict(dirty: nil)
        #expect(p.dirtyRateBytesPerSec == 0)
        #expect(p.notes.contains("no dirty-rate sample: assumed 0, so the forecast is a lower bound"))
        #expect(p == Self.predict(dirty: 0).withNotes(p.notes))
    }

    @Test func aConvergingGuestTakesSeveralShrinkingRounds() {
        // 10 MiB/s dirtied against 100 MiB/s sent: each round about a tenth of the one before.
        let p = Self.predict(dirty: 10 * Self.mib)
        #expect(p.outcome == .converges)
        #expect(p.rounds >= 2 && p.rounds <= 5, "\(p.rounds)")
        #expect(p.downtimeMs <= 300)
        #expect(p.durationSeconds > 10.24 && p.durationSeconds < 13)
        #expect(p.notes.contains("dirty rate 10.0 MiB/s from test"))
    }

    @Test func aFittingEstimateIsPassedUpOnceForARoundThatHalvesIt() {
        // 2 MiB/s dirtied while round 0 sends 1 GiB for 10.24 s leaves 20.3 MiB: 203 ms, within the
        // 300 ms budget but over the 1 ms floor; one more round of 0.2 s is predicted to leave 4 ms.
        let p = Self.predict(dirty: 2 * Self.mib)
        #expect(p.outcome == .converges)
        #expect(p.rounds == 2)
        #expect(p.downtimeMs > 3.9 && p.downtimeMs < 4.2, "\(p.downtimeMs)")
        #expect(p.notes.contains("one more round: it is predicted to cut the downtime from 202.8 ms to 4.0 ms"))
        // With no round left for it, the fitting estimate is taken as it is.
        var oneRound = Self.policy
        oneRound.maxRounds = 1
        let q = Self.predict(dirty: 2 * Self.mib, policy: oneRound)
        #expect(q.outcome == .converges)
        #expect(q.rounds == 1)
        #expect(q.downtimeMs > 202 && q.downtimeMs < 204, "\(q.downtimeMs)")
        #expect(!q.notes.contains { $0.hasPrefix("one more round") })
    }

    @Test func moreDirtyingNeverShortensTheForecast() {
        var last = 0.0
        for rate in stride(from: UInt64(0), through: 80, by: 5) {
            let p = Self.predict(dirty: rate * Self.mib)
            #expect(p.durationSeconds >= last, "rate \(rate) MiB/s")
            last = p.durationSeconds
        }
    }

    @Test func deviceStateCountsInTheDowntime() {
        // 60 MiB of device state at 100 MiB/s is 600 ms: over a 300 ms budget whatever RAM does.
        let p = Self.predict(dirty: 0, devices: 60 * Self.mib)
        #expect(p.downtimeMs == 600)
        #expect(p.outcome == .overBudgetAtMaxRounds)
        #expect(p.rounds == 30)
        #expect(!p.fitsBudget)
        #expect(p.notes.contains("device stop-copy 60.0 MiB in the downtime"))
    }

    @Test func aDivergingGuestIsOverBudgetAndSaysNotConverging() {
        let p = Self.predict(dirty: 200 * Self.mib)
        #expect(p.outcome == .overBudgetAtMaxRounds || p.outcome == .deadline)
        #expect(p.downtimeMs > 300)
        #expect(p.notes.contains { $0.hasPrefix("dirty rate ≥ bandwidth: not converging") })
    }

    @Test func theCompletionDeadlineEndsIt() {
        // 1 s per GiB of deadline, 10 s to send 1 GiB: ferryd aborts at the deadline.
        var policy = Self.policy
        policy.completionSecondsPerGiB = 1
        let p = Self.predict(dirty: 0, policy: policy)
        #expect(p.outcome == .deadline)
        #expect(p.durationSeconds == 1)
    }

    @Test func bandwidthIsTheLowestOfCapChannelsAndLink() {
        let link = LinkAssumptions(perChannelBytesPerSec: 500 << 20, linkBytesPerSec: 1200 << 20)
        var policy = Self.policy
        policy.bandwidthBytesPerSec = 0
        policy.channels = 1
        #expect(MigrationPrediction.bandwidth(policy: policy, link: link) == (500 << 20, "1 channel"))
        policy.channels = 4
        #expect(MigrationPrediction.bandwidth(policy: policy, link: link) == (1200 << 20, "assumed link"))
        policy.bandwidthBytesPerSec = 8 << 20
        #expect(MigrationPrediction.bandwidth(policy: policy, link: link) == (8 << 20, "policy cap"))
    }

    // MARK: - Plan timeline

    static func planned(_ vm: String, _ from: String, _ to: String, wave: Int = 1, priority: Int = 0)
        -> PlannedMigration
    {
        PlannedMigration(
            vmID: vm, sourceHostID: from, destinationHostID: to, wave: wave, priority: priority, ramBytes: gib,
            line: 1)
    }

    static func lasting(_ seconds: Double) -> MigrationPrediction {
        MigrationPrediction(
            bandwidthBytesPerSec: 1, dirtyRateBytesPerSec: 0, rounds: 1, precopySeconds: seconds, downtimeMs: 0,
            durationSeconds: seconds, outcome: .converges, notes: [])
    }

    @Test func independentMigrationsRunTogetherUnderTheClusterCap() {
        let planned = (1...4).map { Self.planned("vm-\($0)", "src-\($0)", "dst-\($0)") }
        let limits = SchedulerLimits(cluster: 2, outboundPerHost: 2, inboundPerHost: 2)
        let p = PlanPrediction.predict(planned, predictions: [10, 20, 10, 10].map(Self.lasting), limits: limits)
        // 1 and 2 start at 0; 3 takes 1's slot at 10, 4 takes 3's at 20 (2 ends at 20 too).
        #expect(p.migrations.map(\.startSeconds) == [0, 0, 10, 20])
        #expect(p.durationSeconds == 30)
    }

    @Test func theOutboundCapSerializesOneSourceHost() {
        let planned = (1...3).map { Self.planned("vm-\($0)", "a", "dst-\($0)") }
        let limits = SchedulerLimits(cluster: 5, outboundPerHost: 1, inboundPerHost: 2)
        let p = PlanPrediction.predict(planned, predictions: [5, 5, 5].map(Self.lasting), limits: limits)
        #expect(p.migrations.map(\.startSeconds) == [0, 5, 10])
        #expect(p.durationSeconds == 15)
    }

    @Test func aLaterWaveWaitsForTheWholeEarlierWave() {
        let planned = [
            Self.planned("vm-1", "a", "b", wave: 1), Self.planned("vm-2", "c", "d", wave: 1),
            Self.planned("vm-3", "e", "f", wave: 2),
        ]
        let p = PlanPrediction.predict(planned, predictions: [3, 8, 1].map(Self.lasting), limits: .defaults)
        #expect(p.migrations.map(\.startSeconds) == [0, 0, 8])
        #expect(p.durationSeconds == 9)
    }

    @Test func priorityGoesFirstWhenSlotsAreScarce() {
        let planned = [
            Self.planned("vm-1", "a", "b", priority: 0), Self.planned("vm-2", "a", "c", priority: 10),
        ]
        let limits = SchedulerLimits(cluster: 1, outboundPerHost: 1, inboundPerHost: 1)
        let p = PlanPrediction.predict(planned, predictions: [4, 6].map(Self.lasting), limits: limits)
        #expect(p.migrations.map(\.startSeconds) == [6, 0])
        #expect(p.durationSeconds == 10)
    }

    @Test func worstDowntimeAndOverBudgetAreRolledUp() {
        let planned = [Self.planned("vm-1", "a", "b"), Self.planned("vm-2", "c", "d")]
        let p = PlanPrediction.predict(
            planned,
            predictions: [Self.predict(dirty: 0), Self.predict(dirty: 0, devices: 60 * Self.mib)],
            limits: .defaults)
        #expect(p.worstDowntimeMs == 600)
        #expect(p.overBudget == 1)
    }

    @Test func aZeroCapIsReportedNotLooped() {
        let planned = [Self.planned("vm-1", "a", "b")]
        let limits = SchedulerLimits(cluster: 0, outboundPerHost: 1, inboundPerHost: 1)
        let p = PlanPrediction.predict(planned, predictions: [Self.lasting(1)], limits: limits)
        #expect(p.notes.contains("1 migrations can never be admitted under these caps"))
    }

    @Test func manyMigrationsStayCheap() {
        // 1,000 migrations over 50 sources and 40 destinations: every one gets its slot in turn.
        let planned = (0..<1000).map { Self.planned("vm-\($0)", "src-\($0 % 50)", "dst-\($0 % 40)") }
        let p = PlanPrediction.predict(
            planned, predictions: planned.indices.map { Self.lasting(Double($0 % 7 + 1)) }, limits: .defaults)
        #expect(p.migrations.count == 1000)
        #expect(p.migrations.allSatisfy { $0.endSeconds > $0.startSeconds })
        // Cluster cap 5: at least total/5 seconds.
        let total = planned.indices.map { Double($0 % 7 + 1) }.reduce(0, +)
        #expect(p.durationSeconds >= total / 5)
    }
}

extension MigrationPrediction {
    fileprivate func withNotes(_ notes: [String]) -> MigrationPrediction {
        var copy = self
        copy.notes = notes
        return copy
    }
}
