import Foundation

/// Whether ferryd can reach a host's agent right now.
public enum HostStatus: String, Codable, Sendable, CaseIterable {
    /// Connected and heartbeating.
    case ready
    /// Missed too many heartbeats, or its connection closed; it becomes `ready` again when it returns.
    case unreachable
}

/// A hypervisor host as its agent last described it. (Not `Host`: Foundation has one.)
public struct HypervisorHost: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var status: HostStatus
    public var agentVersion: String
    public var protocolVersion: Int
    /// Address the control link came from (`HOST:PORT`).
    public var controlAddress: String
    /// Where this host's agent accepts data channels (`HOST:PORT`).
    public var dataAddress: String
    public var kernelRelease: String
    public var cpuCount: Int
    public var memoryBytes: UInt64
    public var freeMemoryBytes: UInt64
    public var devices: [Device]
    public var vms: [VM]
    /// When ferryd first heard of this host.
    public var firstSeen: Date
    /// Last frame received from the agent (heartbeat, inventory, ...).
    public var lastSeen: Date
    /// When `status` last changed.
    public var statusChangedAt: Date

    public init(
        id: String, status: HostStatus, agentVersion: String, protocolVersion: Int,
        controlAddress: String, dataAddress: String, kernelRelease: String,
        cpuCount: Int, memoryBytes: UInt64, freeMemoryBytes: UInt64,
        devices: [Device], vms: [VM], firstSeen: Date, lastSeen: Date, statusChangedAt: Date
    ) {
        self.id = id
        self.status = status
        self.agentVersion = agentVersion
        self.protocolVersion = protocolVersion
        self.controlAddress = controlAddress
        self.dataAddress = dataAddress
        self.kernelRelease = kernelRelease
        self.cpuCount = cpuCount
        self.memoryBytes = memoryBytes
        self.freeMemoryBytes = freeMemoryBytes
        self.devices = devices
        self.vms = vms
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.statusChangedAt = statusChangedAt
    }
}
