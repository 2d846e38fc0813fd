import FerryModel
import Testing

@Suite("Units in plans")
struct UnitsTests {
    @Test(arguments: [
        ("300ms", UInt64(300)), ("2s", 2000), ("1.5s", 1500), ("10m", 600_000), ("1h", 3_600_000), ("250 ms", 250),
    ])
    func durations(text: String, ms: UInt64) throws {
        #expect(try Units.milliseconds(text).get() == ms)
    }

    @Test(arguments: [
        ("4GiB", UInt64(4) << 30), ("500MB", 500_000_000), ("512", 512), ("1.5KiB", 1536), ("2TB", 2_000_000_000_000),
    ])
    func sizes(text: String, bytes: UInt64) throws {
        #expect(try Units.bytes(text).get() == bytes)
    }

    @Test(arguments: [("1GiB/s", UInt64(1) << 30), ("500MB/s", 500_000_000), ("unlimited", 0), ("0", 0)])
    func rates(text: String, bytesPerSec: UInt64) throws {
        #expect(try Units.bytesPerSecond(text).get() == bytesPerSec)
    }

    @Test func badQuantitiesSayWhy() {
        #expect(Units.milliseconds("300") == .failure(.missingUnit("300", expected: "ms, s, m or h")))
        #expect(
            Units.milliseconds("3 fortnights").errorText
                == "'3 fortnights': unknown unit 'fortnights' (expected ms, s, m or h)")
        #expect(Units.milliseconds("-5s") == .failure(.notANumber("-5s")))
        #expect(Units.bytes("4GB/s").isFailure)
        #expect(
            Units.bytesPerSecond("1GiB").errorText == "'1GiB' has no unit (expected a size per second, e.g. 1GiB/s)")
        #expect(Units.bytesPerSecond("1Gbit/s").isFailure)
    }
}

extension Result {
    var errorText: String? {
        if case .failure(let error) = self { "\(error)" } else { nil }
    }

    var isFailure: Bool {
        if case .failure = self { true } else { false }
    }
}
