import Foundation

/// The latest numbers the agents reported for a migration (from `ferry.v1.Progress`), for
/// `status`, `watch` and /metrics. Pre-copy numbers come from the source; `destinationPhase` and
/// device states from whichever side reported last.
public struct MigrationProgress: Codable, Sendable, Equatable, DeclaredJSONKeys {
    public var round: UInt32
    public var ramBytesSent: UInt64
    public var deviceBytesSent: UInt64
    public var dirtyBytesRemaining: UInt64
    public var dirtyRateBytesPerSec: UInt64
    public var bandwidthBytesPerSec: UInt64
    public var expectedDowntimeUs: UInt64
    /// Source vCPU stop to destination vCPU start, once known (0 before).
    public var actualDowntimeUs: UInt64
    /// The agents' own phase names (`precopy`, `cutover`, ...), empty until they report.
    public var sourcePhase: String
    public var destinationPhase: String
    public var devices: [DeviceProgress]
    public var updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case round
        case ramBytesSent = "ram_bytes_sent"
        case deviceBytesSent = "device_bytes_sent"
        case dirtyBytesRemaining = "dirty_bytes_remaining"
        case dirtyRateBytesPerSec = "dirty_rate_bytes_per_sec"
        case bandwidthBytesPerSec = "bandwidth_bytes_per_sec"
        case expectedDowntimeUs = "expected_downtime_us"
        case actualDowntimeUs = "actual_downtime_us"
        case sourcePhase = "source_phase"
        case destinationPhase = "destination_phase"
        case devices
        case updatedAt = "updated_at"
    }

    public init(
        round: UInt32 = 0, ramBytesSent: UInt64 = 0, deviceBytesSent: UInt64 = 0, dirtyBytesRemaining: UInt64 = 0,
        dirtyRateBytesPerSec: UInt64 = 0, bandwidthBytesPerSec: UInt64 = 0, expectedDowntimeUs: UInt64 = 0,
        actualDowntimeUs: UInt64 = 0, sourcePhase: String = "", destinationPhase: String = "",
        devices: [DeviceProgress] = [], updatedAt: Date? = nil
    ) {
        self.round = round
        self.ramBytesSent = ramBytesSent
        self.deviceBytesSent = deviceBytesSent
        self.dirtyBytesRemaining = dirtyBytesRemaining
        self.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        self.bandwidthBytesPerSec = bandwidthBytesPerSec
        self.expectedDowntimeUs = expectedDowntimeUs
        self.actualDowntimeUs = actualDowntimeUs
        self.sourcePhase = sourcePhase
        self.destinationPhase = destinationPhase
        self.devices = devices
        self.updatedAt = updatedAt
    }

    /// One passthrough device's VFIO state and what it still has to send.
    public struct DeviceProgress: Codable, Sendable, Equatable, DeclaredJSONKeys {
        public var id: String
        public var state: String
        public var pendingBytes: UInt64
        public var bytesSent: UInt64

        enum CodingKeys: String, CodingKey {
            case id, state
            case pendingBytes = "pending_bytes"
            case bytesSent = "bytes_sent"
        }

        public init(id: String, state: String, pendingBytes: UInt64, bytesSent: UInt64) {
            self.id = id
            self.state = state
            self.pendingBytes = pendingBytes
            self.bytesSent = bytesSent
        }
    }
}
