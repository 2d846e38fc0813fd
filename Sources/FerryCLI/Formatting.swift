import Foundation

/// Small, pure formatters for table cells.
public enum Formatting {
    /// Binary units with one decimal: `512 B`, `1.5 KiB`, `24.0 GiB`.
    public static func bytes(_ count: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        guard count >= 1024 else { return "\(count) B" }
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f %@", value, units[unit])
    }

    /// Coarse age for "last seen": `3s ago`, `4m ago`, `2h ago`, `5d ago`. A time in the future
    /// (clock skew between ferryd and this machine) reads as `0s ago` rather than a negative age.
    public static func age(of date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date).rounded(.down)))
        switch seconds {
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        case ..<86400: return "\(seconds / 3600)h ago"
        default: return "\(seconds / 86400)d ago"
        }
    }

    /// ISO 8601 in UTC, seconds precision, as the API writes dates.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// PCI ids as `lspci -n` prints them: `10de:2330`.
    public static func pciID(vendor: UInt32, device: UInt32) -> String {
        String(format: "%04x:%04x", vendor, device)
    }
}
