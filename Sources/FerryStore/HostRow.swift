import FerryModel
import Foundation
import GRDB

/// Mapping between `HypervisorHost` and a row of `hosts` (devices and VMs live in their own tables).
enum HostRow {
    static let columns = [
        "id", "status", "agent_version", "protocol_version", "control_address", "data_address",
        "kernel_release", "cpu_count", "memory_bytes", "free_memory_bytes", "first_seen", "last_seen",
        "status_changed_at",
    ]

    /// Values in `columns` order.
    static func values(of host: HypervisorHost) throws(StoreError) -> [any DatabaseValueConvertible] {
        [
            host.id, host.status.rawValue, host.agentVersion, host.protocolVersion, host.controlAddress,
            host.dataAddress, host.kernelRelease, host.cpuCount, try sqliteInteger(host.memoryBytes, "memory_bytes"),
            try sqliteInteger(host.freeMemoryBytes, "free_memory_bytes"), host.firstSeen, host.lastSeen,
            host.statusChangedAt,
        ]
    }

    /// The host without its devices and VMs.
    static func host(from row: Row) throws(StoreError) -> HypervisorHost {
        let stored = StoredRow(row, table: "hosts", keyColumns: ["id"])
        return HypervisorHost(
            id: try stored.value("id"),
            status: try stored.enumeration("status"),
            agentVersion: try stored.value("agent_version"),
            protocolVersion: try stored.int("protocol_version"),
            controlAddress: try stored.value("control_address"),
            dataAddress: try stored.value("data_address"),
            kernelRelease: try stored.value("kernel_release"),
            cpuCount: try stored.int("cpu_count"),
            memoryBytes: try stored.unsigned("memory_bytes"),
            freeMemoryBytes: try stored.unsigned("free_memory_bytes"),
            devices: [], vms: [],
            firstSeen: try stored.value("first_seen"),
            lastSeen: try stored.value("last_seen"),
            statusChangedAt: try stored.value("status_changed_at"))
    }
}
