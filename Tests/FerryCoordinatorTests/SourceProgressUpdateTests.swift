import FerryModel
import FerryWire
import Testing

@testable import FerryCoordinator

@Suite("Source progress: mid-round reports")
struct SourceProgressUpdateTests {
    static let gib: UInt64 = 1 << 30
    static let policy = MigrationPolicy(
        maxDowntimeMs: 300, bandwidthBytesPerSec: 0, completionSecondsPerGiB: 150, noProgressWindowSeconds: 60,
        maxRounds: 30, autoConverge: true, channels: 2, priority: 0)

    static func report(
        round: UInt32, ram: UInt64, device: UInt64 = 0, remaining: UInt64, dirtyRate: UInt64, bandwidth: UInt64,
        expectedUs: UInt64, midRound: Bool
    ) -> Ferry_V1_Progress {
        var p = Ferry_V1_Progress()
        p.phase = .precopy
        p.round = round
        p.ramBytesSent = ram
        p.deviceBytesSent = device
        p.dirtyBytesRemaining = remaining
        p.dirtyRateBytesPerSec = dirtyRate
        p.bandwidthBytesPerSec = bandwidth
        p.expectedDowntimeUs = expectedUs
        p.midRound = midRound
        return p
    }

    @Test("an end-of-round report sets every measured field")
    func endOfRound() {
        let p = Self.report(
            round: 2, ram: 9 * Self.gib, device: 4096, remaining: 512 << 20, dirtyRate: 200 << 20,
            bandwidth: 1 << 30, expectedUs: 500_000, midRound: false)
        let got = SourceProgressUpdate.apply(p, to: MigrationProgress())
        #expect(
            got
                == MigrationProgress(
                    round: 2, ramBytesSent: 9 * Self.gib, deviceBytesSent: 4096, dirtyBytesRemaining: 512 << 20,
                    dirtyRateBytesPerSec: 200 << 20, bandwidthBytesPerSec: 1 << 30, expectedDowntimeUs: 500_000))
        #expect(SourceProgressUpdate.sample(p, seconds: 7) != nil)
    }

    @Test("a mid-round report updates round, bytes and bandwidth, and keeps the last round's dirty figures")
    func midRoundShown() {
        let stored = MigrationProgress(
            round: 2, ramBytesSent: 9 * Self.gib, deviceBytesSent: 4096, dirtyBytesRemaining: 512 << 20,
            dirtyRateBytesPerSec: 200 << 20, bandwidthBytesPerSec: 1 << 30, expectedDowntimeUs: 500_000)
        // The agent repeats the last round's dirty figures; ferryd keeps its own either way.
        let p = Self.report(
            round: 3, ram: 9 * Self.gib + (100 << 20), device: 8192, remaining: 0, dirtyRate: 0, bandwidth: 900 << 20,
            expectedUs: 0, midRound: true)
        let got = SourceProgressUpdate.apply(p, to: stored)
        #expect(got.round == 3)
        #expect(got.ramBytesSent == 9 * Self.gib + (100 << 20))
        #expect(got.deviceBytesSent == 8192)
        #expect(got.bandwidthBytesPerSec == 900 << 20)
        #expect(got.dirtyBytesRemaining == stored.dirtyBytesRemaining)
        #expect(got.dirtyRateBytesPerSec == stored.dirtyRateBytesPerSec)
        #expect(got.expectedDowntimeUs == stored.expectedDowntimeUs)
    }

    @Test("a mid-round report is no convergence sample: the policy's inputs and decision do not change")
    func midRoundNotASample() {
        // Remaining bytes that stopped shrinking: the policy throttles on these rounds.
        var samples = [3000, 2900, 2950, 2980, 2990, 3000, 2995, 3005].enumerated().map { i, mib in
            ProgressSample(
                seconds: Double(10 * (i + 1)), round: UInt32(i + 1), dirtyBytesRemaining: UInt64(mib) << 20,
                dirtyRateBytesPerSec: 900 << 20, bandwidthBytesPerSec: 1 << 30)
        }
        let before = ConvergencePolicy.decide(
            policy: Self.policy, ramBytes: 8 * Self.gib, samples: samples, now: 85, throttlePercent: 0,
            lastEscalation: nil)
        // Mid-round reports of a round that looks done (0 remaining), as an older ferryd would take them.
        for k in 0..<5 {
            let p = Self.report(
                round: 9, ram: UInt64(k) << 30, remaining: 0, dirtyRate: 0, bandwidth: 2 << 30, expectedUs: 0,
                midRound: true)
            if let s = SourceProgressUpdate.sample(p, seconds: 81 + Double(k)) { samples.append(s) }
        }
        #expect(samples.count == 8)
        let after = ConvergencePolicy.decide(
            policy: Self.policy, ramBytes: 8 * Self.gib, samples: samples, now: 85, throttlePercent: 0,
            lastEscalation: nil)
        #expect(after == before)
        #expect(after.inputs == before.inputs)
        // The same report marked end-of-round would have been one: the marking is what matters.
        var end = Self.report(
            round: 9, ram: 1 << 30, remaining: 0, dirtyRate: 0, bandwidth: 2 << 30, expectedUs: 0, midRound: false)
        end.midRound = false
        #expect(SourceProgressUpdate.sample(end, seconds: 90)?.dirtyBytesRemaining == 0)
    }

    @Test("mid_round survives the wire; absent means end of round")
    func wire() throws {
        let p = Self.report(round: 1, ram: 1, remaining: 0, dirtyRate: 0, bandwidth: 1, expectedUs: 0, midRound: true)
        #expect(try Ferry_V1_Progress(serializedBytes: p.serializedData()).midRound)
        var old = p
        old.midRound = false
        #expect(try !Ferry_V1_Progress(serializedBytes: old.serializedData()).midRound)
    }
}
