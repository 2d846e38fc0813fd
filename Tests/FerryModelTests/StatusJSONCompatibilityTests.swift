import Foundation
import Testing

@testable import FerryModel

/// `status` types declare their snake_case keys (`DeclaredJSONKeys`) instead of having Foundation
/// convert them: the bytes must stay exactly what the converted Swift names gave.
@Suite struct StatusJSONCompatibilityTests {
    /// MigrationProgress as it was coded before: Swift names, converted by the strategy.
    struct LegacyProgress: Encodable {
        struct Device: Encodable {
            var id: String
            var state: String
            var pendingBytes: UInt64
            var bytesSent: UInt64
        }
        var round: UInt32
        var ramBytesSent: UInt64
        var deviceBytesSent: UInt64
        var dirtyBytesRemaining: UInt64
        var dirtyRateBytesPerSec: UInt64
        var bandwidthBytesPerSec: UInt64
        var expectedDowntimeUs: UInt64
        var actualDowntimeUs: UInt64
        var sourcePhase: String
        var destinationPhase: String
        var devices: [Device]
        var updatedAt: Date?

        init(_ p: MigrationProgress) {
            round = p.round
            ramBytesSent = p.ramBytesSent
            deviceBytesSent = p.deviceBytesSent
            dirtyBytesRemaining = p.dirtyBytesRemaining
            dirtyRateBytesPerSec = p.dirtyRateBytesPerSec
            bandwidthBytesPerSec = p.bandwidthBytesPerSec
            expectedDowntimeUs = p.expectedDowntimeUs
            actualDowntimeUs = p.actualDowntimeUs
            sourcePhase = p.sourcePhase
            destinationPhase = p.destinationPhase
            devices = p.devices.map {
                Device(id: $0.id, state: $0.state, pendingBytes: $0.pendingBytes, bytesSent: $0.bytesSent)
            }
            updatedAt = p.updatedAt
        }
    }

    /// MigrationStatus as it was coded before: the migration's own coding, then the status's fields.
    struct LegacyStatus: Encodable {
        struct ETA: Encodable {
            var seconds: Double?
            var note: String
        }
        var status: MigrationStatus

        enum CodingKeys: String, CodingKey { case progress, waitingReason, pointOfNoReturnPassed, eta }

        func encode(to encoder: any Encoder) throws {
            try status.migration.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(status.progress.map(LegacyProgress.init), forKey: .progress)
            try c.encodeIfPresent(status.waitingReason, forKey: .waitingReason)
            try c.encode(status.pointOfNoReturnPassed, forKey: .pointOfNoReturnPassed)
            try c.encode(ETA(seconds: status.eta.seconds, note: status.eta.note), forKey: .eta)
        }
    }

    struct LegacyList: Encodable { var migrations: [LegacyStatus] }
    struct List: Codable, Equatable, DeclaredJSONKeys { var migrations: [MigrationStatus] }

    /// Statuses in every phase, with and without progress, devices, waits, odd text.
    static var statuses: [MigrationStatus] {
        var random = TestRandom(seed: 11)
        var result: [MigrationStatus] = []
        let texts = ["", "plain", "quote \" and \\ back/slash", "tab\tnew\nline\u{1}", "ünïcødé ✓ 🚀", "</script>"]
        for (i, phase) in (MigrationPhase.allCases + MigrationPhase.allCases).enumerated() {
            let t0 = Date(timeIntervalSince1970: 1_764_000_000 + Double(random.next() % 10_000_000) / 1000)
            let times = MigrationPhase.allCases.prefix(Int(random.next() % 7)).enumerated().map { j, p in
                PhaseTime(phase: p, at: t0.addingTimeInterval(Double(j) * 1.25))
            }
            let migration = Migration(
                id: "m-\(i)", planID: "plan-\(i % 3)", position: i, vmID: "vm-\(texts[i % texts.count])",
                sourceHostID: "host-a", destinationHostID: "host-\(i)", wave: i % 4, priority: -i,
                ramBytes: random.next() >> UInt64(i % 40), phase: phase, phaseTimes: times,
                commandSeq: random.next() % 100, reason: texts[(i + 2) % texts.count])
            let progress: MigrationProgress? =
                i % 3 == 0
                ? nil
                : MigrationProgress(
                    round: UInt32(i), ramBytesSent: random.next() % (1 << 40), deviceBytesSent: random.next() % 999,
                    dirtyBytesRemaining: random.next() % (1 << 30), dirtyRateBytesPerSec: random.next() % (1 << 28),
                    bandwidthBytesPerSec: i % 5 == 0 ? 0 : random.next() % (1 << 31) + 1,
                    expectedDowntimeUs: random.next() % 100_000, actualDowntimeUs: UInt64(i * 7),
                    sourcePhase: "precopy", destinationPhase: texts[i % texts.count],
                    devices: (0..<(i % 3)).map { d in
                        .init(
                            id: "0000:65:00.\(d)", state: "pre_copy_p2p", pendingBytes: random.next() % 4096,
                            bytesSent: UInt64(d))
                    },
                    updatedAt: i % 4 == 0 ? nil : t0.addingTimeInterval(0.001 * Double(i)))
            result.append(
                MigrationStatus(
                    migration: migration, progress: progress, waitingReason: i % 5 == 1 ? texts[i % texts.count] : nil))
        }
        return result
    }

    @Test("a status list encodes to the bytes the converted Swift names gave")
    func listBytesIdentical() throws {
        let statuses = Self.statuses
        #expect(statuses.contains { $0.eta.seconds != nil })
        let expected = try JSONCompatibilityTests.foundationEncoder().encode(
            LegacyList(migrations: statuses.map(LegacyStatus.init)))
        #expect(
            String(decoding: try FerryJSON.encoder(keys: .declared).encode(List(migrations: statuses)), as: UTF8.self)
                == String(decoding: expected, as: UTF8.self))
        for status in statuses {
            #expect(
                try FerryJSON.encoder(keys: .declared).encode(status)
                    == JSONCompatibilityTests.foundationEncoder().encode(LegacyStatus(status: status)))
        }
    }

    @Test("declared keys decode what the converted names encoded, to the same values")
    func decodesLegacyBytes() throws {
        let statuses = Self.statuses
        let legacy = try JSONCompatibilityTests.foundationEncoder().encode(
            LegacyList(migrations: statuses.map(LegacyStatus.init)))
        let decoded = try FerryJSON.decoder(for: List.self).decode(List.self, from: legacy)
        // Dates travel in whole seconds: compare with what the old decoder made of the same bytes.
        #expect(decoded.migrations.map(\.migration.id) == statuses.map(\.migration.id))
        #expect(try FerryJSON.encoder(keys: .declared).encode(decoded) == legacy)
    }

    @Test("progress stored by the converted encoder reads back with the declared keys")
    func storedProgress() throws {
        for status in Self.statuses {
            guard let progress = status.progress else { continue }
            let stored = try JSONCompatibilityTests.foundationEncoder().encode(LegacyProgress(progress))
            #expect(try FerryJSON.encoder().encode(progress) == stored)
            let back = try FerryJSON.decoder(for: MigrationProgress.self).decode(MigrationProgress.self, from: stored)
            #expect(try FerryJSON.encoder().encode(back) == stored)
            #expect(FerryJSON.keys(for: MigrationProgress.self) == .declared)
        }
    }
}
