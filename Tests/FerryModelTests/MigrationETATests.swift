import FerryModel
import Foundation
import Testing

/// ETA from remaining bytes, dirty rate and bandwidth over converging, diverging and missing inputs.
@Suite("Migration ETA")
struct MigrationETATests {
    static let mib: UInt64 = 1 << 20
    static let at = Date(timeIntervalSince1970: 1_764_000_000)

    static func progress(remaining: UInt64, dirty: UInt64, bandwidth: UInt64, devices: [UInt64] = [])
        -> MigrationProgress
    {
        MigrationProgress(
            round: 2, dirtyBytesRemaining: remaining * mib, dirtyRateBytesPerSec: dirty * mib,
            bandwidthBytesPerSec: bandwidth * mib,
            devices: devices.enumerated().map {
                .init(id: "d\($0)", state: "pre_copy", pendingBytes: $1 * mib, bytesSent: 0)
            },
            updatedAt: at)
    }

    /// (remaining MiB, dirty MiB/s, bandwidth MiB/s, expected seconds): R / (B − D).
    @Test(arguments: [
        (UInt64(100), UInt64(0), UInt64(100), 1.0),
        (100, 50, 100, 2.0),
        (100, 90, 100, 10.0),
        (1024, 256, 512, 4.0),
        (0, 10, 100, 0.0),
    ])
    func convergingGivesRemainingOverNetRate(_ remaining: UInt64, _ dirty: UInt64, _ bandwidth: UInt64, _ want: Double)
    {
        let eta = MigrationETA.estimate(
            phase: .precopy, progress: Self.progress(remaining: remaining, dirty: dirty, bandwidth: bandwidth))
        #expect(eta.seconds == want)
        #expect(eta.note == "converging")
    }

    @Test func slowerNetRateMeansLaterETA() throws {
        // Same remaining bytes, rising dirty rate: the estimate grows without bound, then stops.
        var last = 0.0
        for dirty in stride(from: UInt64(0), to: 100, by: 10) {
            let s = MigrationETA.estimate(
                phase: .precopy, progress: Self.progress(remaining: 64, dirty: dirty, bandwidth: 100)
            ).seconds
            let seconds = try #require(s)
            #expect(seconds > last)
            last = seconds
        }
    }

    @Test(arguments: [(UInt64(100), UInt64(100)), (150, 100), (1, 0)])
    func divergingHasNoETA(_ dirty: UInt64, _ bandwidth: UInt64) {
        let eta = MigrationETA.estimate(
            phase: .precopy, progress: Self.progress(remaining: 64, dirty: dirty, bandwidth: bandwidth))
        #expect(eta.seconds == nil)
        if bandwidth == 0 {
            #expect(eta.note == "no bandwidth measured yet")
        } else {
            #expect(eta.note.hasPrefix("not converging: dirty rate"), "\(eta.note)")
        }
    }

    @Test func devicePendingBytesCount() {
        let eta = MigrationETA.estimate(
            phase: .precopy, progress: Self.progress(remaining: 60, dirty: 50, bandwidth: 100, devices: [30, 10]))
        #expect(eta.seconds == 2.0)
    }

    @Test func stopAndCopyIgnoresTheDirtyRate() {
        // The vCPUs are stopped in cutover: even a high last dirty rate does not block the estimate.
        for phase in [MigrationPhase.cutover, .resuming] {
            let eta = MigrationETA.estimate(
                phase: phase, progress: Self.progress(remaining: 50, dirty: 500, bandwidth: 100))
            #expect(eta.seconds == 0.5)
            #expect(eta.note == "stop-and-copy")
        }
    }

    @Test func noEstimateOutsideTheCopyingPhasesOrWithoutAReport() {
        let p = Self.progress(remaining: 50, dirty: 5, bandwidth: 100)
        for phase in MigrationPhase.allCases where ![.precopy, .cutover, .resuming].contains(phase) {
            #expect(MigrationETA.estimate(phase: phase, progress: p).seconds == nil)
        }
        #expect(MigrationETA.estimate(phase: .precopy, progress: nil).note == "no bandwidth measured yet")
        #expect(MigrationETA.estimate(phase: .precopy, progress: MigrationProgress()).seconds == nil)
        #expect(MigrationETA.estimate(phase: .completed, progress: p).note == "ended")
        #expect(MigrationETA.estimate(phase: .scheduled, progress: p).note == "not in pre-copy yet")
    }

    @Test(arguments: [
        (0.44, "0.4s"), (9.94, "9.9s"), (9.96, "10s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"), (7440, "2h04m"),
    ])
    func durationsReadShort(_ seconds: Double, _ text: String) {
        #expect(MigrationETA.duration(seconds) == text)
    }

    @Test func roundTripsThroughJSON() throws {
        let eta = MigrationETA(seconds: 1.5, note: "converging")
        let data = try FerryJSON.encoder().encode(eta)
        #expect(try FerryJSON.decoder(for: MigrationETA.self).decode(MigrationETA.self, from: data) == eta)
        let none = MigrationETA(seconds: nil, note: "ended")
        #expect(
            try FerryJSON.decoder(for: MigrationETA.self).decode(
                MigrationETA.self, from: FerryJSON.encoder().encode(none)) == none)
    }
}
