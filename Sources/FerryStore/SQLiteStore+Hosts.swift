import FerryModel
import Foundation
import GRDB

extension SQLiteStore {
    public func upsertHost(_ host: HypervisorHost) throws(StoreError) {
        try write("upsertHost") { db in
            let values = try HostRow.values(of: host)
            // ON CONFLICT keeps the row (and so first_seen) and overwrites the rest.
            try db.execute(
                sql: """
                    INSERT INTO hosts (\(HostRow.columns.joined(separator: ", ")))
                    VALUES (\(HostRow.columns.map { _ in "?" }.joined(separator: ", ")))
                    ON CONFLICT(id) DO UPDATE SET
                    \(HostRow.columns.filter { $0 != "id" && $0 != "first_seen" }
                        .map { "\($0) = excluded.\($0)" }.joined(separator: ",\n"))
                    """,
                arguments: StatementArguments(values))
            // The inventory is replaced as a whole: the agent always sends all of it.
            try db.execute(sql: "DELETE FROM host_devices WHERE host_id = ?", arguments: [host.id])
            try db.execute(sql: "DELETE FROM host_vms WHERE host_id = ?", arguments: [host.id])
            for (position, device) in host.devices.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO host_devices (\(DeviceRow.columns.joined(separator: ", ")))
                        VALUES (\(DeviceRow.columns.map { _ in "?" }.joined(separator: ", ")))
                        """,
                    arguments: StatementArguments(
                        try DeviceRow.values(of: device, hostID: host.id, position: position)))
            }
            for (position, vm) in host.vms.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO host_vms (\(VMRow.columns.joined(separator: ", ")))
                        VALUES (\(VMRow.columns.map { _ in "?" }.joined(separator: ", ")))
                        """,
                    arguments: StatementArguments(try VMRow.values(of: vm, hostID: host.id, position: position)))
            }
        }
    }

    /// Changes `status_changed_at` only when the status really changes, so it keeps meaning
    /// "since when"; setting the current status again is a no-op.
    public func setHostStatus(id: String, status: HostStatus, at: Date) throws(StoreError) {
        try write("setHostStatus") { db in
            try db.execute(
                sql: "UPDATE hosts SET status = ?, status_changed_at = ? WHERE id = ? AND status <> ?",
                arguments: [status.rawValue, at, id, status.rawValue])
            if db.changesCount == 0, try !Self.hostExists(db, id: id) { throw StoreError.unknownHost(id: id) }
        }
    }

    public func touchHost(id: String, lastSeen: Date, freeMemoryBytes: UInt64) throws(StoreError) {
        try write("touchHost") { db in
            try db.execute(
                sql: "UPDATE hosts SET last_seen = ?, free_memory_bytes = ? WHERE id = ?",
                arguments: [lastSeen, try sqliteInteger(freeMemoryBytes, "free_memory_bytes"), id])
            if db.changesCount == 0 { throw StoreError.unknownHost(id: id) }
        }
    }

    /// One transaction and one prepared statement for all of them: a single commit (one fsync)
    /// per heartbeat interval instead of one per host.
    @discardableResult
    public func touchHosts(_ touches: [HostTouch]) throws(StoreError) -> Int {
        guard !touches.isEmpty else { return 0 }
        return try write("touchHosts") { db in
            let statement = try db.makeStatement(
                sql: "UPDATE hosts SET last_seen = ?, free_memory_bytes = ? WHERE id = ?")
            var changed = 0
            for touch in touches {
                try statement.execute(arguments: [
                    touch.lastSeen, try sqliteInteger(touch.freeMemoryBytes, "free_memory_bytes"), touch.id,
                ])
                changed += db.changesCount
            }
            return changed
        }
    }

    public func hosts() throws(StoreError) -> [HypervisorHost] {
        try read("hosts") { db in
            let devices = try Dictionary(
                grouping: Row.fetchAll(db, sql: "SELECT * FROM host_devices ORDER BY host_id, position"),
                by: { try $0.decode(String.self, forColumn: "host_id") }
            ).mapValues { rows in try rows.map(DeviceRow.device(from:)) }
            let vms = try Dictionary(
                grouping: Row.fetchAll(db, sql: "SELECT * FROM host_vms ORDER BY host_id, position"),
                by: { try $0.decode(String.self, forColumn: "host_id") }
            ).mapValues { rows in try rows.map(VMRow.vm(from:)) }
            return try Row.fetchAll(db, sql: "SELECT * FROM hosts ORDER BY id").map { row in
                var host = try HostRow.host(from: row)
                host.devices = devices[host.id] ?? []
                host.vms = vms[host.id] ?? []
                return host
            }
        }
    }

    public func host(id: String) throws(StoreError) -> HypervisorHost? {
        try read("host") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hosts WHERE id = ?", arguments: [id]) else {
                return nil
            }
            var host = try HostRow.host(from: row)
            host.devices = try Row.fetchAll(
                db, sql: "SELECT * FROM host_devices WHERE host_id = ? ORDER BY position", arguments: [id]
            ).map(DeviceRow.device(from:))
            host.vms = try Row.fetchAll(
                db, sql: "SELECT * FROM host_vms WHERE host_id = ? ORDER BY position", arguments: [id]
            ).map(VMRow.vm(from:))
            return host
        }
    }

    static func hostExists(_ db: Database, id: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM hosts WHERE id = ?)", arguments: [id]) ?? false
    }
}
