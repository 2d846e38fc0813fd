/// Can a device on the destination take over a source device's migration state?
///
/// The VFIO blob is opaque, so the kernel only finds out at RESUMING; Ferry refuses earlier on
/// what the agents report: same vendor and device id, same (variant) driver, same migration
/// version string, and every migration capability the source device uses.
public enum DeviceCompatibility {
    /// `nil` when `peer` is compatible with `source`, else why not (the first difference).
    public static func mismatch(source: Device, peer: Device) -> String? {
        if source.vendorID != peer.vendorID || source.deviceID != peer.deviceID {
            return "is \(pciID(peer)), not \(pciID(source))"
        }
        if source.driver != peer.driver { return "uses driver '\(peer.driver)', not '\(source.driver)'" }
        if source.migrationVersion != peer.migrationVersion {
            return "has migration version '\(peer.migrationVersion)', not '\(source.migrationVersion)'"
        }
        let missing = source.migrationCapabilities.subtracting(peer.migrationCapabilities)
        if !missing.isEmpty { return "lacks capabilities \(missing.names.joined(separator: ", "))" }
        return nil
    }

    public static func pciID(_ device: Device) -> String {
        hex4(device.vendorID) + ":" + hex4(device.deviceID)
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Sizes in messages: `4.0 GiB`, `512 MiB`.
public enum ByteCount {
    public static func text(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}
