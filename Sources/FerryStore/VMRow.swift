import FerryModel
import Foundation
import GRDB

/// Mapping between `VM` and a row of `host_vms`.
enum VMRow {
    static let columns = [
        "host_id", "id", "position", "ram_bytes", "vcpus", "device_ids", "state", "dirty_rate_bytes_per_sec", "pid",
    ]

    /// Values in `columns` order.
    static func values(of vm: VM, hostID: String, position: Int) throws(StoreError) -> [any DatabaseValueConvertible] {
        [
            hostID, vm.id, position, try sqliteInteger(vm.ramBytes, "ram_bytes"), vm.vcpus,
            try deviceIDsJSON(vm.deviceIDs), vm.state.rawValue,
            try sqliteInteger(vm.dirtyRateBytesPerSec, "dirty_rate_bytes_per_sec"), vm.pid,
        ]
    }

    static func vm(from row: Row) throws(StoreError) -> VM {
        let stored = StoredRow(row, table: "host_vms", keyColumns: ["host_id", "id"])
        let json = try stored.value("device_ids", as: String.self)
        let deviceIDs: [String]
        do {
            deviceIDs = try JSONDecoder().decode([String].self, from: Data(json.utf8))
        } catch {
            throw .corruptRow(table: "host_vms", key: stored.key, reason: "column device_ids: \(error)")
        }
        return VM(
            id: try stored.value("id"),
            ramBytes: try stored.unsigned("ram_bytes"),
            vcpus: try stored.int("vcpus"),
            deviceIDs: deviceIDs,
            state: try stored.enumeration("state"),
            dirtyRateBytesPerSec: try stored.unsigned("dirty_rate_bytes_per_sec"),
            pid: try stored.int("pid"))
    }

    static func deviceIDsJSON(_ ids: [String]) throws(StoreError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)
        } catch {
            throw .query(operation: "write device_ids", reason: String(describing: error))
        }
    }
}
