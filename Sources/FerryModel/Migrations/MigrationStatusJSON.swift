/// `status` bodies written by hand (`PrettyJSONWriter`): the same bytes as `FerryJSON`'s encoder
/// gives `MigrationStatus` (keys declared in `MigrationStatus.CodingKeys` and the types inside,
/// here in sorted order), in a fraction of the time. A plan of 100 migrations took Foundation
/// milliseconds; this is a walk over the fields. StatusJSONCompatibilityTests keeps them identical.
public enum MigrationStatusJSON {
    /// `{"migrations": [...]}`, as `GET /v1/migrations` answers.
    public static func list(_ statuses: [MigrationStatus]) -> [UInt8] {
        var w = PrettyJSONWriter(reservingCapacity: 256 + 1600 * statuses.count)
        w.beginObject()
        w.key("migrations")
        w.beginArray()
        for status in statuses {
            w.element()
            write(status, to: &w)
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    /// One status, as `GET /v1/migrations/{id}` answers.
    public static func one(_ status: MigrationStatus) -> [UInt8] {
        var w = PrettyJSONWriter()
        write(status, to: &w)
        return w.bytes
    }

    static func write(_ s: MigrationStatus, to w: inout PrettyJSONWriter) {
        let m = s.migration
        w.beginObject()
        w.key("command_seq")
        w.integer(m.commandSeq)
        w.key("destination_host_id")
        w.string(m.destinationHostID)
        w.key("eta")
        w.beginObject()
        w.key("note")
        w.string(s.eta.note)
        if let seconds = s.eta.seconds {
            w.key("seconds")
            w.double(seconds)
        }
        w.endObject()
        w.key("id")
        w.string(m.id)
        w.key("phase")
        w.string(m.phase.rawValue)
        w.key("phase_times")
        w.beginArray()
        for time in m.phaseTimes {
            w.element()
            w.beginObject()
            w.key("at")
            w.date(time.at)
            w.key("phase")
            w.string(time.phase.rawValue)
            w.endObject()
        }
        w.endArray()
        w.key("plan_id")
        w.string(m.planID)
        w.key("point_of_no_return_passed")
        w.bool(s.pointOfNoReturnPassed)
        w.key("position")
        w.integer(m.position)
        w.key("priority")
        w.integer(m.priority)
        if let progress = s.progress {
            w.key("progress")
            write(progress, to: &w)
        }
        w.key("ram_bytes")
        w.integer(m.ramBytes)
        w.key("reason")
        w.string(m.reason)
        w.key("source_host_id")
        w.string(m.sourceHostID)
        w.key("vm_id")
        w.string(m.vmID)
        if let waitingReason = s.waitingReason {
            w.key("waiting_reason")
            w.string(waitingReason)
        }
        w.key("wave")
        w.integer(m.wave)
        w.endObject()
    }

    static func write(_ p: MigrationProgress, to w: inout PrettyJSONWriter) {
        w.beginObject()
        w.key("actual_downtime_us")
        w.integer(p.actualDowntimeUs)
        w.key("bandwidth_bytes_per_sec")
        w.integer(p.bandwidthBytesPerSec)
        w.key("destination_phase")
        w.string(p.destinationPhase)
        w.key("device_bytes_sent")
        w.integer(p.deviceBytesSent)
        w.key("devices")
        w.beginArray()
        for device in p.devices {
            w.element()
            w.beginObject()
            w.key("bytes_sent")
            w.integer(device.bytesSent)
            w.key("id")
            w.string(device.id)
            w.key("pending_bytes")
            w.integer(device.pendingBytes)
            w.key("state")
            w.string(device.state)
            w.endObject()
        }
        w.endArray()
        w.key("dirty_bytes_remaining")
        w.integer(p.dirtyBytesRemaining)
        w.key("dirty_rate_bytes_per_sec")
        w.integer(p.dirtyRateBytesPerSec)
        w.key("expected_downtime_us")
        w.integer(p.expectedDowntimeUs)
        w.key("ram_bytes_sent")
        w.integer(p.ramBytesSent)
        w.key("round")
        w.integer(p.round)
        w.key("source_phase")
        w.string(p.sourcePhase)
        if let updatedAt = p.updatedAt {
            w.key("updated_at")
            w.date(updatedAt)
        }
        w.endObject()
    }
}
