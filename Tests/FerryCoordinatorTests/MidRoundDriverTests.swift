import FerryCoordinator
import FerryModel
import FerryStore
import FerryWire
import Testing

/// MigrationDriver fed mid-round reports (fake link, real in-memory store): status shows them, the
/// convergence policy does not see them.
@Suite("MigrationDriver and mid-round progress")
struct MidRoundDriverTests {
    typealias U = MigrationDriverUnitTests

    static func precopy(round: UInt32, ram: UInt64, remaining: UInt64, bandwidth: UInt64, midRound: Bool)
        -> MigrationReport
    {
        var p = Ferry_V1_Progress()
        p.migrationID = U.migrationID
        p.phase = .precopy
        p.round = round
        p.ramBytesSent = ram
        p.dirtyBytesRemaining = remaining
        p.bandwidthBytesPerSec = bandwidth
        p.midRound = midRound
        return .progress(p)
    }

    @Test("a mid-round report past max_rounds is stored but triggers nothing; the round's end does")
    func midRoundStoredNotJudged() async throws {
        let f = try U.fixture()
        let driver = try await U.inPrecopy(f)
        f.link.clearSent()
        await driver.deliver(
            Self.precopy(round: 0, ram: 1 << 20, remaining: 0, bandwidth: 4 << 20, midRound: false), from: "host-a")
        // Round 30 in flight: were it a round's end, the default policy (30 rounds) would abort now.
        await driver.deliver(
            Self.precopy(round: 30, ram: 48 << 20, remaining: 0, bandwidth: 8 << 20, midRound: true), from: "host-a")
        let shown = try #require(try f.store.progress(migrationID: U.migrationID))
        #expect(shown.round == 30)
        #expect(shown.ramBytesSent == 48 << 20)
        #expect(shown.bandwidthBytesPerSec == 8 << 20)
        #expect(f.link.sent.isEmpty)
        #expect(await driver.phase == .precopy)
        // The same figures as the round's own report: a sample, and the rounds are exhausted.
        await driver.deliver(
            Self.precopy(round: 30, ram: 64 << 20, remaining: 1 << 20, bandwidth: 8 << 20, midRound: false),
            from: "host-a")
        #expect(f.link.sent.contains { $0.body == "abort" })
    }
}
