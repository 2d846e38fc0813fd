import FerryModel

/// What an agent's Inventory says about its host, converted to the domain model and validated.
public struct HostInventory: Sendable, Equatable {
    public var cpuCount: Int
    public var memoryBytes: UInt64
    public var freeMemoryBytes: UInt64
    public var agentVersion: String
    public var kernelRelease: String
    public var dataAddress: String
    public var devices: [Device]
    public var vms: [VM]

    public init(
        cpuCount: Int, memoryBytes: UInt64, freeMemoryBytes: UInt64, agentVersion: String,
        kernelRelease: String, dataAddress: String, devices: [Device], vms: [VM]
    ) {
        self.cpuCount = cpuCount
        self.memoryBytes = memoryBytes
        self.freeMemoryBytes = freeMemoryBytes
        self.agentVersion = agentVersion
        self.kernelRelease = kernelRelease
        self.dataAddress = dataAddress
        self.devices = devices
        self.vms = vms
    }
}

extension HypervisorHost {
    /// This host with everything an inventory reports replaced.
    func applying(_ inventory: HostInventory) -> HypervisorHost {
        var host = self
        host.cpuCount = inventory.cpuCount
        host.memoryBytes = inventory.memoryBytes
        host.freeMemoryBytes = inventory.freeMemoryBytes
        if !inventory.agentVersion.isEmpty { host.agentVersion = inventory.agentVersion }
        host.kernelRelease = inventory.kernelRelease
        host.dataAddress = inventory.dataAddress
        host.devices = inventory.devices
        host.vms = inventory.vms
        return host
    }
}
