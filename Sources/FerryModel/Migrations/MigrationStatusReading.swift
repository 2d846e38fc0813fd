import Foundation

// `status` bodies read without Foundation's Decodable machinery (`JSONReader`): the fast path of
// decoding what MigrationStatusJSON wrote. Every field means what its `Decodable` conformance says
// it means: the same keys, the same required and optional fields, the same defaults.

extension MigrationStatus: JSONReadable {
    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> MigrationStatus {
        var id: String?
        var planID: String?
        var position: Int?
        var vmID: String?
        var sourceHostID: String?
        var destinationHostID: String?
        var wave: Int?
        var priority: Int?
        var ramBytes: UInt64?
        var phase: MigrationPhase?
        var phaseTimes: [PhaseTime]?
        var commandSeq: UInt64?
        var reason: String?
        var progress: MigrationProgress?
        var waitingReason: String?
        var pointOfNoReturnPassed: Bool?
        var eta: MigrationETA?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "id": id = try r.string()
            case "plan_id": planID = try r.string()
            case "position": position = try r.integer()
            case "vm_id": vmID = try r.string()
            case "source_host_id": sourceHostID = try r.string()
            case "destination_host_id": destinationHostID = try r.string()
            case "wave": wave = try r.integer()
            case "priority": priority = try r.integer()
            case "ram_bytes": ramBytes = try r.integer()
            case "phase": phase = try MigrationPhase.read(from: &r)
            case "phase_times": phaseTimes = try r.array(of: PhaseTime.self)
            case "command_seq": commandSeq = try r.integer()
            case "reason": reason = try r.string()
            case "progress": progress = r.null() ? nil : try MigrationProgress.read(from: &r)
            case "waiting_reason": waitingReason = r.null() ? nil : try r.string()
            case "point_of_no_return_passed": pointOfNoReturnPassed = r.null() ? nil : try r.bool()
            case "eta": eta = r.null() ? nil : try MigrationETA.read(from: &r)
            default: try r.skipValue()
            }
        }
        guard let id, let planID, let position, let vmID, let sourceHostID, let destinationHostID, let wave,
            let priority, let ramBytes, let phase, let phaseTimes, let commandSeq, let reason
        else { throw JSONReader.Mismatch() }
        let migration = Migration(
            id: id, planID: planID, position: position, vmID: vmID, sourceHostID: sourceHostID,
            destinationHostID: destinationHostID, wave: wave, priority: priority, ramBytes: ramBytes, phase: phase,
            phaseTimes: phaseTimes, commandSeq: commandSeq, reason: reason)
        var status = MigrationStatus(migration: migration, progress: progress, waitingReason: waitingReason)
        status.pointOfNoReturnPassed = pointOfNoReturnPassed ?? false
        if let eta { status.eta = eta }
        return status
    }
}

extension MigrationPhase {
    static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> MigrationPhase {
        guard let phase = MigrationPhase(rawValue: try r.string()) else { throw JSONReader.Mismatch() }
        return phase
    }
}

extension PhaseTime: JSONReadable {
    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> PhaseTime {
        var phase: MigrationPhase?
        var at: Date?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "phase": phase = try MigrationPhase.read(from: &r)
            case "at": at = try r.date()
            default: try r.skipValue()
            }
        }
        guard let phase, let at else { throw JSONReader.Mismatch() }
        return PhaseTime(phase: phase, at: at)
    }
}

extension MigrationETA: JSONReadable {
    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> MigrationETA {
        var seconds: Double?
        var note: String?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "seconds": seconds = r.null() ? nil : try r.double()
            case "note": note = try r.string()
            default: try r.skipValue()
            }
        }
        guard let note else { throw JSONReader.Mismatch() }
        return MigrationETA(seconds: seconds, note: note)
    }
}

extension MigrationProgress: JSONReadable {
    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> MigrationProgress {
        var round: UInt32?
        var ramBytesSent: UInt64?
        var deviceBytesSent: UInt64?
        var dirtyBytesRemaining: UInt64?
        var dirtyRate: UInt64?
        var bandwidth: UInt64?
        var expectedDowntime: UInt64?
        var actualDowntime: UInt64?
        var sourcePhase: String?
        var destinationPhase: String?
        var devices: [DeviceProgress]?
        var updatedAt: Date?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "round": round = try r.integer()
            case "ram_bytes_sent": ramBytesSent = try r.integer()
            case "device_bytes_sent": deviceBytesSent = try r.integer()
            case "dirty_bytes_remaining": dirtyBytesRemaining = try r.integer()
            case "dirty_rate_bytes_per_sec": dirtyRate = try r.integer()
            case "bandwidth_bytes_per_sec": bandwidth = try r.integer()
            case "expected_downtime_us": expectedDowntime = try r.integer()
            case "actual_downtime_us": actualDowntime = try r.integer()
            case "source_phase": sourcePhase = try r.string()
            case "destination_phase": destinationPhase = try r.string()
            case "devices": devices = try r.array(of: DeviceProgress.self)
            case "updated_at": updatedAt = r.null() ? nil : try r.date()
            default: try r.skipValue()
            }
        }
        guard let round, let ramBytesSent, let deviceBytesSent, let dirtyBytesRemaining, let dirtyRate, let bandwidth,
            let expectedDowntime, let actualDowntime, let sourcePhase, let destinationPhase, let devices
        else { throw JSONReader.Mismatch() }
        return MigrationProgress(
            round: round, ramBytesSent: ramBytesSent, deviceBytesSent: deviceBytesSent,
            dirtyBytesRemaining: dirtyBytesRemaining, dirtyRateBytesPerSec: dirtyRate, bandwidthBytesPerSec: bandwidth,
            expectedDowntimeUs: expectedDowntime, actualDowntimeUs: actualDowntime, sourcePhase: sourcePhase,
            destinationPhase: destinationPhase, devices: devices, updatedAt: updatedAt)
    }
}

extension MigrationProgress.DeviceProgress: JSONReadable {
    public static func read(from r: inout JSONReader) throws(JSONReader.Mismatch) -> Self {
        var id: String?
        var state: String?
        var pendingBytes: UInt64?
        var bytesSent: UInt64?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "id": id = try r.string()
            case "state": state = try r.string()
            case "pending_bytes": pendingBytes = try r.integer()
            case "bytes_sent": bytesSent = try r.integer()
            default: try r.skipValue()
            }
        }
        guard let id, let state, let pendingBytes, let bytesSent else { throw JSONReader.Mismatch() }
        return Self(id: id, state: state, pendingBytes: pendingBytes, bytesSent: bytesSent)
    }
}

extension JSONReader {
    /// An array of `T` (not null).
    public mutating func array<T: JSONReadable>(of _: T.Type) throws(Mismatch) -> [T] {
        try beginArray()
        var result: [T] = []
        while try nextElement() {
            result.append(try T.read(from: &self))
        }
        return result
    }
}
