import FerryCLI
import FerryModel
import Foundation
import Testing

/// `ferryctl status` (table and JSON) and `watch`'s plain-line mode.
@Suite("ferryctl status and watch rendering")
struct StatusRenderingTests {
    static let now = Date(timeIntervalSince1970: 1_764_000_000)

    static func migration(_ id: String, _ phase: MigrationPhase, reason: String = "") -> Migration {
        Migration(
            id: id, planID: "plan-1", position: 0, vmID: "vm-\(id)", sourceHostID: "a", destinationHostID: "b",
            wave: 1, priority: 0, ramBytes: 64 << 20, phase: phase, reason: reason)
    }

    /// Pending and waiting, pre-copy with a device, past the point of no return, rolled back.
    static let waiting = MigrationStatus(
        migration: migration("m-1", .pending), progress: nil, waitingReason: "cluster cap 5 reached")
    static let copying = MigrationStatus(
        migration: migration("m-2", .precopy),
        progress: MigrationProgress(
            round: 3, ramBytesSent: 48 << 20, deviceBytesSent: 16 << 20, dirtyBytesRemaining: 8 << 20,
            dirtyRateBytesPerSec: 2 << 20, bandwidthBytesPerSec: 8 << 20, expectedDowntimeUs: 5_500,
            devices: [.init(id: "0000:65:00.0", state: "pre_copy", pendingBytes: 1 << 20, bytesSent: 3 << 20)],
            updatedAt: now),
        waitingReason: nil)
    static let resuming = MigrationStatus(
        migration: migration("m-3", .resuming),
        progress: MigrationProgress(
            round: 5, ramBytesSent: 70 << 20, expectedDowntimeUs: 80_000, actualDowntimeUs: 120_000,
            updatedAt: now),
        waitingReason: nil)
    static let rolledBack = MigrationStatus(
        migration: migration("m-4", .rolledBack, reason: "no progress for 150 s"), progress: nil, waitingReason: nil)

    @Test func plainLinesCarryEveryNumberAndTheNote() {
        #expect(
            StatusRendering.line(Self.waiting)
                == #"m-1 pending round=- sent=- remaining=- dirty=- bw=- downtime=- eta=- note="waiting: cluster cap 5 reached""#
        )
        #expect(
            StatusRendering.line(Self.copying)
                == "m-2 precopy round=3 sent=64.0 MiB remaining=8.0 MiB dirty=2.0 MiB/s bw=8.0 MiB/s downtime=5.5ms/- eta=1.5s"
                + #" note="0000:65:00.0 pre_copy 1.0 MiB pending""#)
        #expect(
            StatusRendering.line(Self.resuming)
                == "m-3 resuming round=5 sent=70.0 MiB remaining=0 B dirty=0 B/s bw=0 B/s downtime=80ms/120ms eta=-"
                + #" note="point of no return passed""#)
        #expect(
            StatusRendering.line(Self.rolledBack)
                == #"m-4 rolled_back round=- sent=- remaining=- dirty=- bw=- downtime=- eta=- note="no progress for 150 s""#
        )
    }

    @Test func aFinishedMigrationListsNoPendingDeviceWork() {
        var completed = Self.copying
        completed.migration.phase = .completed
        #expect(StatusRendering.line(Self.copying).contains("pending"))
        #expect(!StatusRendering.line(completed).contains("note="), "\(StatusRendering.line(completed))")
    }

    @Test func watchPrintsOnlyMigrationsWhoseLineChanged() {
        var shown: [String: String] = [:]
        let first = StatusRendering.changedLines([Self.waiting, Self.copying], since: &shown)
        #expect(first == StatusRendering.line(Self.waiting) + "\n" + StatusRendering.line(Self.copying) + "\n")
        // Nothing moved: nothing printed.
        #expect(StatusRendering.changedLines([Self.waiting, Self.copying], since: &shown) == "")
        // One round later only m-2 is printed again.
        var next = Self.copying
        next.progress?.round = 4
        next.progress?.dirtyBytesRemaining = 2 << 20
        let third = StatusRendering.changedLines([Self.waiting, next], since: &shown)
        #expect(third == StatusRendering.line(next) + "\n")
        #expect(third.contains("round=4 ") && third.contains("remaining=2.0 MiB "))
    }

    @Test func tableHasAHeaderAndOneAlignedRowPerMigration() {
        let table = StatusRendering.table([Self.waiting, Self.copying, Self.resuming, Self.rolledBack])
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(lines.count == 5, "\(table)")
        #expect(lines[0].hasPrefix("ID   VM      FROM  TO  PHASE        PROGRESS           ROUND  SENT"), "\(lines[0])")
        // Every column starts where its header does.
        let phaseColumn = lines[0].range(of: "PHASE")!.lowerBound.utf16Offset(in: lines[0])
        for (line, phase) in zip(lines.dropFirst(), ["pending", "precopy", "resuming", "rolled_back"]) {
            #expect(line.dropFirst(phaseColumn).hasPrefix(phase), "\(line)")
            #expect(!line.hasSuffix(" "), "trailing space: '\(line)'")
        }
        #expect(lines[1].hasSuffix("waiting: cluster cap 5 reached"))
        #expect(lines[2].contains("5.5ms/-") && lines[2].hasSuffix("0000:65:00.0 pre_copy 1.0 MiB pending"))
        #expect(lines[3].contains("80ms/120ms") && lines[3].hasSuffix("point of no return passed"))
        #expect(lines[4].hasSuffix("no progress for 150 s"))
        let etaColumn = lines[0].range(of: "ETA")!.lowerBound.utf16Offset(in: lines[0])
        #expect(lines[2].dropFirst(etaColumn).hasPrefix("1.5s"), "\(lines[2])")
    }

    /// Sent against sent plus remaining; full when completed; no bar without a report or after a
    /// failure, cancel or rollback.
    @Test func progressBarDrawsSentAgainstWhatRemains() {
        #expect(StatusRendering.bar(Self.copying) == "[########..] 88%")  // 64 MiB sent, 8 MiB to go
        #expect(StatusRendering.bar(Self.waiting) == "-")
        #expect(StatusRendering.bar(Self.rolledBack) == "-")
        var completed = Self.resuming
        completed.migration.phase = .completed
        #expect(StatusRendering.bar(completed) == "[##########] 100%")
        var early = Self.copying
        early.progress?.ramBytesSent = 1 << 20
        early.progress?.deviceBytesSent = 0
        early.progress?.dirtyBytesRemaining = 99 << 20
        #expect(StatusRendering.bar(early) == "[..........] 1%")
    }

    @Test func aDivergingMigrationSaysNotConvergingInsteadOfAnETA() {
        var diverging = Self.copying
        diverging.progress?.dirtyRateBytesPerSec = 9 << 20
        diverging = MigrationStatus(
            migration: diverging.migration, progress: diverging.progress, waitingReason: nil)
        #expect(diverging.eta.seconds == nil)
        let line = StatusRendering.line(diverging)
        #expect(line.contains(" eta=not converging "), "\(line)")
        #expect(line.hasSuffix("not converging: dirty rate 9.0 MiB/s ≥ bandwidth 8.0 MiB/s\""), "\(line)")
    }

    static func body(_ statuses: [MigrationStatus]) throws -> String {
        let data = try FerryJSON.encoder().encode(["migrations": statuses])
        return String(decoding: data, as: UTF8.self)
    }

    @Test func statusCommandPrintsTheTableOrTheBodyVerbatim() async throws {
        let body = try Self.body([Self.waiting, Self.copying])
        let server = try CannedHTTPServer(status: 200, body: body)
        defer { server.stop() }
        let context = CommandContext(environment: [:], now: Self.now)

        let table = await Ferryctl.execute(["status", "--server", server.url], context: context)
        #expect(table.exitCode == 0 && table.stderr == "")
        #expect(table.stdout == StatusRendering.table([Self.waiting, Self.copying]))

        let json = await Ferryctl.execute(["status", "--output", "json", "--server", server.url], context: context)
        #expect(json.exitCode == 0 && json.stderr == "")
        #expect(json.stdout.trimmingCharacters(in: .newlines) == body)
        let decoded = try FerryJSON.decoder(for: MigrationList.self).decode(
            MigrationList.self, from: Data(json.stdout.utf8))
        #expect(decoded.migrations == [Self.waiting, Self.copying])
        #expect(server.requestedPaths == ["/v1/migrations", "/v1/migrations"])
    }

    @Test func statusOfAnUnknownTargetIsTheAPIsError() async throws {
        let server = try CannedHTTPServer(
            status: 404, body: #"{"error":{"code":"not_found","message":"no migration 'zz' is known"}}"#)
        defer { server.stop() }
        let result = await Ferryctl.execute(
            ["status", "zz", "--server", server.url], context: CommandContext(environment: [:], now: Self.now))
        #expect(result.exitCode == 1 && result.stdout == "")
        #expect(result.stderr.contains("no migration 'zz' is known"), "\(result.stderr)")
    }
}
