import Foundation
import Testing

@testable import FerryModel

/// FerryJSON's own date and key coding against Foundation's strategies it replaces: the same
/// bytes out, the same values in.
@Suite struct JSONCompatibilityTests {
    /// Foundation's coders as FerryJSON configured them before (the reference).
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }

    static func foundationDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Dates around the edges of the fast path and at random, with fractions of a second.
    static var dates: [Date] {
        var random = TestRandom(seed: 7)
        var seconds: [Double] = [
            0, 0.999, 1.5, -0.5, -1, -1.5, 1e-7, -1e-7, 1_764_000_000.9999, 1_764_000_000.123456789,
            951_782_400,  // 2000-02-29
            -11_644_473_600, -11_644_473_601, -11_644_473_599.5,  // 1601-01-01, its edge
            253_402_300_799, 253_402_300_799.999, 253_402_300_800,  // 9999-12-31T23:59:59, 10000
            -62_135_596_800, -62_135_596_801, 4_102_444_800, 978_307_200, -2_208_988_800,
        ]
        for _ in 0..<3000 {
            // Milliseconds, as the store keeps them, from 1500 to 2400.
            let ms = Int64(random.next() % 28_401_000_000_000) - 14_832_000_000_000
            seconds.append(Double(ms) / 1000)
        }
        for _ in 0..<500 { seconds.append(Double(random.next() % 4_000_000_000) + Double(random.next() % 1000) / 997) }
        return seconds.map(Date.init(timeIntervalSince1970:))
    }

    @Test("ISO8601Date.string writes what Foundation's .iso8601 writes")
    func datesEncodeIdentically() throws {
        let foundation = Self.foundationEncoder()
        for date in Self.dates {
            let expected = String(decoding: try foundation.encode([date]), as: UTF8.self)
            let ours = String(decoding: try FerryJSON.encoder().encode([date]), as: UTF8.self)
            #expect(ours == expected, "\(date.timeIntervalSince1970)")
        }
    }

    @Test("ISO8601Date.date reads what Foundation's .iso8601 reads, and refuses what it refuses")
    func datesDecodeIdentically() throws {
        var strings = try Self.dates.map { date in
            String(decoding: try Self.foundationEncoder().encode(date), as: UTF8.self).trimmingCharacters(
                in: CharacterSet(charactersIn: "\""))
        }
        strings += [
            "2026-12-04T10:11:12Z", "2026-12-04T10:11:12.5Z", "2026-12-04T10:11:12+01:00", "2026-12-04 10:11:12Z",
            "2026-02-30T10:11:12Z", "2026-02-29T10:11:12Z", "2024-02-29T10:11:12Z", "2026-12-04T24:00:00Z",
            "2026-12-04T10:11:60Z", "2026-12-04T10:60:00Z", "0000-01-01T00:00:00Z", "1600-12-31T23:59:59Z",
            "1601-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
            "2026-12-00T00:00:00Z", "2026-1a-04T10:11:12Z", "2026-12-04T10:11:12z", "", "x", "2026-12-04",
            "2026-12-04T10:11:12", "+2026-12-04T10:11:12Z", "2026-12-04T10:11:12ZZ", "1900-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
        ]
        let foundation = Self.foundationDecoder()
        for string in strings {
            let body = Data("[\"\(string)\"]".utf8)
            let expected = try? foundation.decode([Date].self, from: body)
            let ours = try? FerryJSON.decoder().decode([Date].self, from: body)
            #expect(ours == expected, "\(string)")
        }
    }

    /// Reads the keys of a JSON object as a decoder's key strategy leaves them.
    struct Keys: Decodable {
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        var keys: Set<String>
        init(from decoder: any Decoder) throws {
            keys = Set(try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue))
        }
    }

    @Test("snake_case keys are converted as Foundation's .convertFromSnakeCase converts them")
    func keysConvertIdentically() throws {
        let keys = [
            "a_b", "_a_b_", "__x", "ABC_DEF", "url_id", "a_1b", "already", "ÄÖ_ü", "x_", "_", "plan_id", "a_bC_d",
            "dirty_rate_bytes_per_sec", "point_of_no_return_passed", "ram_bytes", "vm_id", "", "a__b_c", "__", "Ab_cD",
            "utf8_é_ß", "2_x", "x_2", "snake_case_with_many_many_words",
        ]
        for key in keys {
            let body = Data("{\"\(key)\": 1}".utf8)
            let expected = try Self.foundationDecoder().decode(Keys.self, from: body).keys
            #expect(try FerryJSON.decoder().decode(Keys.self, from: body).keys == expected, "\(key)")
            #expect([SnakeCaseKey.camelCase(key)] == expected, "\(key)")
        }
    }

    struct Sample: Codable, Equatable {
        var planId: String
        var vmId: String
        var dirtyRateBytesPerSec: UInt64
        var firstSeen: Date
        var nested: [String: Int]
        var dataAddress: String
    }

    @Test("converted types decode to the same values as with Foundation's strategies")
    func convertedDecodesIdentically() throws {
        let sample = Sample(
            planId: "p", vmId: "v", dirtyRateBytesPerSec: 7, firstSeen: Date(timeIntervalSince1970: 1_764_000_000),
            nested: ["some_key": 1, "other": 2], dataAddress: "10.0.0.1:7000")
        let body = try Self.foundationEncoder().encode(sample)
        #expect(try FerryJSON.encoder().encode(sample) == body)
        let expected = try Self.foundationDecoder().decode(Sample.self, from: body)
        #expect(try FerryJSON.decoder().decode(Sample.self, from: body) == expected)
    }
}

/// A small deterministic generator (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
