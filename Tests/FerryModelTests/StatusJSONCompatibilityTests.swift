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

/// `MigrationStatusJSON` (written by hand) against FerryJSON's encoder.
@Suite struct MigrationStatusJSONTests {
    typealias Reference = StatusJSONCompatibilityTests

    @Test("the hand-written list is byte for byte what the encoder writes (empty, odd text, every shape)")
    func listIdentical() throws {
        let statuses = Reference.statuses
        for list in [statuses, [], Array(statuses.prefix(1))] {
            let expected = try FerryJSON.encoder(keys: .declared).encode(Reference.List(migrations: list))
            #expect(
                String(decoding: MigrationStatusJSON.list(list), as: UTF8.self)
                    == String(decoding: expected, as: UTF8.self))
        }
    }

    @Test("one status, byte for byte, and numbers Foundation writes its own way")
    func oneIdentical() throws {
        var statuses = Reference.statuses
        let etas: [Double] = [0, 1, -1, 0.1, 1.5, 1e-7, 123_456_789.123, 1e21, 1e16, 1e15, 999_999_999_999_999, 2.5e-5]
        for (i, seconds) in etas.enumerated() {
            statuses[i].eta = MigrationETA(seconds: seconds, note: "n\(i)")
        }
        for status in statuses {
            let expected = try FerryJSON.encoder(keys: .declared).encode(status)
            #expect(
                String(decoding: MigrationStatusJSON.one(status), as: UTF8.self)
                    == String(decoding: expected, as: UTF8.self))
        }
    }

    @Test("strings that need escaping are escaped as Foundation escapes them")
    func escaping() throws {
        var status = Reference.statuses[0]
        for text in ["\u{0}\u{1f}", "\"", "\\", "a/b", "\u{7f}\u{2028}é", "\n\r\t\u{8}\u{c}", "🚀\"x"] {
            status.migration.reason = text
            status.waitingReason = text
            let expected = try FerryJSON.encoder(keys: .declared).encode(status)
            #expect(MigrationStatusJSON.one(status) == Array(expected), "\(text.debugDescription)")
        }
    }
}

/// `JSONReader` and the status types' fast reading against Foundation's decoding of the same bytes.
@Suite struct StatusReadingTests {
    typealias Reference = StatusJSONCompatibilityTests

    struct List: Codable, Equatable, DeclaredJSONKeys, JSONReadable {
        var migrations: [MigrationStatus]
        static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> List {
            try r.beginObject()
            var migrations: [MigrationStatus]?
            while let key = try r.nextKey() {
                if key == "migrations" { migrations = try r.array(of: MigrationStatus.self) } else { try r.skipValue() }
            }
            guard let migrations else { throw JSONReader.Mismatch() }
            return List(migrations: migrations)
        }
    }

    static func foundation<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? FerryJSON.decoder(keys: .declared).decode(type, from: Data(bytes))
    }

    @Test("what MigrationStatusJSON writes reads back to what Foundation decodes, whole lists and one by one")
    func readsWhatFoundationDecodes() throws {
        var statuses = Reference.statuses
        statuses[0].eta = MigrationETA(seconds: 1e-7, note: "tiny")
        statuses[1].eta = MigrationETA(seconds: 123_456_789.123, note: "big")
        statuses[2].migration.reason = "esc \" \\ / \u{1} \u{7f} é 🚀 \n"
        let body = MigrationStatusJSON.list(statuses)
        let fast = try #require(JSONReader.read(List.self, from: body))
        #expect(fast == Self.foundation(List.self, body))
        for status in statuses {
            let one = MigrationStatusJSON.one(status)
            #expect(JSONReader.read(MigrationStatus.self, from: one) == Self.foundation(MigrationStatus.self, one))
            #expect(JSONReader.read(MigrationStatus.self, from: one) != nil)
        }
    }

    @Test(
        "documents off the fast path are refused, never misread",
        arguments: [
            #"{"migrations": [ {"id": 1} ]}"#,
            #"{"migrations": null}"#,
            #"{"migrations": [] } x"#,
            #"{"migrations": [], }"#,
            #"{"migrations" [] }"#,
            #"{"migrations": [{"command_seq": 01}]}"#,
        ])
    func refusesOddDocuments(_ text: String) {
        #expect(JSONReader.read(List.self, from: Array(text.utf8)) == nil)
    }

    @Test("odd but valid inputs: read the same as Foundation, or left to it")
    func oddButValid() throws {
        let status = Reference.statuses[4]
        var text = String(decoding: MigrationStatusJSON.one(status), as: UTF8.self)
        // Extra keys, escapes Foundation accepts, nulls for optionals, numbers in other spellings.
        text = text.replacingOccurrences(
            of: "\"wave\" :",
            with: "\"extra\" : {\"a\" : [1, 2.5e3, true, null, \"x\\u00e9\\ud83d\\ude80\"]}, \"wave\" :")
        text = text.replacingOccurrences(of: "\"reason\" : \"", with: "\"reason\" : \"\\u0041\\/\\t")
        for variant in [
            text, text.replacingOccurrences(of: "\"command_seq\" : ", with: "\"command_seq\" : 1e1, \"x\" : "),
            text.replacingOccurrences(of: "\"eta\" : {", with: "\"waiting_reason\" : null, \"eta\" : {"),
            text.replacingOccurrences(of: "\"position\" : ", with: "\"position\" : -0, \"y\" : "),
        ] {
            let bytes = Array(variant.utf8)
            let expected = Self.foundation(MigrationStatus.self, bytes)
            #expect(expected != nil, "\(variant)")
            if let fast = JSONReader.read(MigrationStatus.self, from: bytes) { #expect(fast == expected) }
        }
        #expect(JSONReader.read(MigrationStatus.self, from: Array(text.utf8)) != nil)
    }

    @Test("stored progress reads fast to what Foundation decodes")
    func progressReads() throws {
        for status in Reference.statuses {
            guard let progress = status.progress else { continue }
            let stored = Array(try FerryJSON.encoder().encode(progress))
            let fast = try #require(JSONReader.read(MigrationProgress.self, from: stored))
            #expect(fast == Self.foundation(MigrationProgress.self, stored))
        }
    }
}
