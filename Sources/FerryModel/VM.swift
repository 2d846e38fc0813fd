/// What a VM's process is doing, as its host's agent reports it.
public enum VMState: String, Codable, Sendable, CaseIterable {
    case running
    /// vCPUs stopped for cutover.
    case frozen
    /// Destination side: waiting for memory and device state.
    case incoming
    /// Source side: pre-copy in progress.
    case migrating
    case unknown
}

/// A VM registered with a host's agent.
public struct VM: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var ramBytes: UInt64
    public var vcpus: Int
    public var deviceIDs: [String]
    public var state: VMState
    /// Last measured dirty rate; 0 if never tracked.
    public var dirtyRateBytesPerSec: UInt64
    public var pid: Int

    /// `deviceIds` so FerryJSON's snake_case keys read `device_ids` (not `device_i_ds`) and decode back.
    enum CodingKeys: String, CodingKey {
        case id, ramBytes, vcpus
        case deviceIDs = "deviceIds"
        case state, dirtyRateBytesPerSec, pid
    }

    public init(
        id: String, ramBytes: UInt64, vcpus: Int, deviceIDs: [String], state: VMState,
        dirtyRateBytesPerSec: UInt64, pid: Int
    ) {
        self.id = id
        self.ramBytes = ramBytes
        self.vcpus = vcpus
        self.deviceIDs = deviceIDs
        self.state = state
        self.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        self.pid = pid
    }
}
