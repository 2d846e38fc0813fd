import FerryModel
import Foundation
import GRDB

/// Mapping between `Device` and a row of `host_devices`.
enum DeviceRow {
    static let columns = [
        "host_id", "id", "position", "backend", "pci_vendor_id", "pci_device_id", "driver",
        "migration_capabilities", "dma_logging", "saving_layout_handshake", "migration_version", "vm_id",
        "state", "stop_copy_bytes",
    ]

    /// Values in `columns` order. A free device (empty `vmID`) is stored with a NULL `vm_id`.
    static func values(of device: Device, hostID: String, position: Int) throws(StoreError)
        -> [(any DatabaseValueConvertible)?]
    {
        [
            hostID, device.id, position, device.backend.rawValue, Int64(device.vendorID), Int64(device.deviceID),
            device.driver, Int64(device.migrationCapabilities.rawValue), device.dmaLogging,
            device.savingLayoutHandshake, device.migrationVersion, device.vmID.isEmpty ? nil : device.vmID,
            device.state.rawValue, try sqliteInteger(device.stopCopyBytes, "stop_copy_bytes"),
        ]
    }

    static func device(from row: Row) throws(StoreError) -> Device {
        let stored = StoredRow(row, table: "host_devices", keyColumns: ["host_id", "id"])
        return Device(
            id: try stored.value("id"),
            backend: try stored.enumeration("backend"),
            vendorID: try stored.unsigned("pci_vendor_id"),
            deviceID: try stored.unsigned("pci_device_id"),
            driver: try stored.value("driver"),
            migrationCapabilities: MigrationCapabilities(rawValue: try stored.unsigned("migration_capabilities")),
            dmaLogging: try stored.value("dma_logging"),
            savingLayoutHandshake: try stored.value("saving_layout_handshake"),
            migrationVersion: try stored.value("migration_version"),
            vmID: try stored.optional("vm_id", as: String.self) ?? "",
            state: try stored.enumeration("state"),
            stopCopyBytes: try stored.unsigned("stop_copy_bytes"))
    }
}
