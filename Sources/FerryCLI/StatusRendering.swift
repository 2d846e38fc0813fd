import FerryModel
import Foundation

/// `status` and `watch` tables: one row per migration with its live numbers.
public enum StatusRendering {
    public static func table(_ statuses: [MigrationStatus]) -> String {
        TextTable(
            headers: [
                "ID", "VM", "FROM", "TO", "PHASE", "PROGRESS", "ROUND", "SENT", "REMAINING", "DIRTY RATE",
                "BANDWIDTH", "DOWNTIME EXP/ACT", "ETA", "NOTE",
            ],
            rows: statuses.map { status in
                var cells = row(status)
                cells.insert(bar(status), at: 5)
                return cells
            }
        ).render()
    }

    /// A progress bar for people: bytes sent against bytes sent plus what the source last reported
    /// still to send (dirty pages, device data). "-" before the first report and for endings other
    /// than completed: there is no honest fraction to draw then.
    public static func bar(_ s: MigrationStatus, width: Int = 10) -> String {
        let fraction: Double
        switch s.migration.phase {
        case .completed:
            fraction = 1
        case _ where s.migration.phase.isTerminal:
            return "-"
        default:
            guard let p = s.progress, p.updatedAt != nil else { return "-" }
            let sent = Double(p.ramBytesSent + p.deviceBytesSent)
            let total = sent + Double(p.dirtyBytesRemaining)
            guard total > 0 else { return "-" }
            fraction = sent / total
        }
        let filled = min(width, Int((fraction * Double(width)).rounded(.down)))
        let percent = Int((fraction * 100).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(percent)%"
    }

    static func row(_ s: MigrationStatus) -> [String] {
        let m = s.migration
        let p = s.progress
        let started = p?.updatedAt != nil
        func bytes(_ value: UInt64?) -> String { started ? ByteCount.text(value ?? 0) : "-" }
        func rate(_ value: UInt64?) -> String { started ? ByteCount.text(value ?? 0) + "/s" : "-" }
        let downtime =
            started
            ? "\(milliseconds(p?.expectedDowntimeUs ?? 0))/\(p?.actualDowntimeUs ?? 0 > 0 ? milliseconds(p!.actualDowntimeUs) : "-")"
            : "-"
        return [
            m.id, m.vmID, m.sourceHostID, m.destinationHostID, m.phase.rawValue, started ? "\(p?.round ?? 0)" : "-",
            bytes((p?.ramBytesSent ?? 0) + (p?.deviceBytesSent ?? 0)), bytes(p?.dirtyBytesRemaining),
            rate(p?.dirtyRateBytesPerSec), rate(p?.bandwidthBytesPerSec), downtime, eta(s), note(s),
        ]
    }

    /// The estimate, or "not converging" when the guest dirties memory as fast as it is sent.
    static func eta(_ s: MigrationStatus) -> String {
        if s.eta.seconds != nil { return s.eta.text }
        return s.eta.note.hasPrefix("not converging") ? "not converging" : "-"
    }

    /// Why it waits, why it ended, or that cancel is no longer possible.
    static func note(_ s: MigrationStatus) -> String {
        if let wait = s.waitingReason, s.migration.phase == .pending { return "waiting: \(wait)" }
        if !s.migration.reason.isEmpty { return s.migration.reason }
        if s.pointOfNoReturnPassed && !s.migration.phase.isTerminal { return "point of no return passed" }
        // A finished migration's last device snapshot is history, not work still pending.
        let devices = s.migration.phase.isTerminal ? [] : s.progress?.devices ?? []
        var parts = devices.map { "\($0.id) \($0.state) \(ByteCount.text($0.pendingBytes)) pending" }
        if s.eta.note.hasPrefix("not converging") { parts.append(s.eta.note) }
        return parts.joined(separator: "; ")
    }

    static func milliseconds(_ us: UInt64) -> String {
        us < 10_000 ? String(format: "%.1fms", Double(us) / 1000) : "\(us / 1000)ms"
    }

    /// One line for `watch` when stdout is not a terminal.
    public static func line(_ s: MigrationStatus) -> String {
        let cells = row(s)
        return
            "\(cells[0]) \(cells[4]) round=\(cells[5]) sent=\(cells[6]) remaining=\(cells[7]) dirty=\(cells[8]) bw=\(cells[9]) downtime=\(cells[10]) eta=\(cells[11])"
            + (cells[12].isEmpty ? "" : " note=\"\(cells[12])\"")
    }

    /// `watch` plain-line mode: a line per migration whose line differs from the last refresh's
    /// (`shown` holds those, by migration id), so a log of the output reads as a history.
    public static func changedLines(_ statuses: [MigrationStatus], since shown: inout [String: String]) -> String {
        var text = ""
        for s in statuses {
            let rendered = line(s)
            if shown[s.migration.id] != rendered { text += rendered + "\n" }
            shown[s.migration.id] = rendered
        }
        return text
    }
}
