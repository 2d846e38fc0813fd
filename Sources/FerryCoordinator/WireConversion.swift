import FerryModel
import FerryWire

/// A wire message that does not make a valid model value (a required enum left UNSPECIFIED, an
/// unknown value, a duplicate id).
public struct ConversionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where in the message, e.g. `devices[1].backend`.
    public var field: String
    public var reason: String

    public var description: String { "\(field): \(reason)" }
}

// Proto <-> model. Enum states the agent may legitimately not know map to `.unknown`; values the
// coordinator needs to act on (a device's backend) are required and rejected when UNSPECIFIED.

extension DeviceState {
    /// Wire value = kernel `enum vfio_device_mig_state` + 1 (the kernel's ERROR is 0, and 0 is
    /// UNSPECIFIED on the wire).
    public init(wire: Ferry_V1_DeviceState) {
        switch wire {
        case .error: self = .error
        case .stop: self = .stop
        case .running: self = .running
        case .stopCopy: self = .stopCopy
        case .resuming: self = .resuming
        case .runningP2P: self = .runningP2P
        case .preCopy: self = .preCopy
        case .preCopyP2P: self = .preCopyP2P
        case .unspecified, .UNRECOGNIZED: self = .unknown
        }
    }

    public var wire: Ferry_V1_DeviceState {
        switch self {
        case .error: .error
        case .stop: .stop
        case .running: .running
        case .stopCopy: .stopCopy
        case .resuming: .resuming
        case .runningP2P: .runningP2P
        case .preCopy: .preCopy
        case .preCopyP2P: .preCopyP2P
        case .unknown: .unspecified
        }
    }

    /// The kernel's `enum vfio_device_mig_state` value, nil for `.unknown`.
    public var kernelValue: UInt32? { wire == .unspecified ? nil : UInt32(wire.rawValue - 1) }
}

extension VMState {
    public init(wire: Ferry_V1_VmState) {
        switch wire {
        case .running: self = .running
        case .frozen: self = .frozen
        case .incoming: self = .incoming
        case .migrating: self = .migrating
        case .unspecified, .UNRECOGNIZED: self = .unknown
        }
    }

    public var wire: Ferry_V1_VmState {
        switch self {
        case .running: .running
        case .frozen: .frozen
        case .incoming: .incoming
        case .migrating: .migrating
        case .unknown: .unspecified
        }
    }
}

extension DeviceBackend {
    public init(wire: Ferry_V1_DeviceBackend, field: String) throws(ConversionError) {
        switch wire {
        case .vfio: self = .vfio
        case .sim: self = .sim
        case .unspecified: throw ConversionError(field: field, reason: "backend is UNSPECIFIED")
        case .UNRECOGNIZED(let value): throw ConversionError(field: field, reason: "unknown backend \(value)")
        }
    }

    public var wire: Ferry_V1_DeviceBackend {
        switch self {
        case .vfio: .vfio
        case .sim: .sim
        }
    }
}

extension Device {
    public init(wire: Ferry_V1_Device, field: String) throws(ConversionError) {
        guard !wire.id.isEmpty else { throw ConversionError(field: "\(field).id", reason: "is empty") }
        self.init(
            id: wire.id, backend: try DeviceBackend(wire: wire.backend, field: "\(field).backend"),
            vendorID: wire.vendorID, deviceID: wire.deviceID, driver: wire.driver,
            // Bits we do not know yet are dropped: they cannot be acted upon.
            migrationCapabilities: MigrationCapabilities(rawValue: wire.migrationFlags).intersection([
                .stopCopy, .p2p, .preCopy,
            ]),
            dmaLogging: wire.dmaLogging, savingLayoutHandshake: wire.savingLayoutHandshake,
            migrationVersion: wire.migrationVersion, vmID: wire.vmID, state: DeviceState(wire: wire.state),
            stopCopyBytes: wire.stopCopyBytes)
    }

    public var wire: Ferry_V1_Device {
        var d = Ferry_V1_Device()
        d.id = id
        d.backend = backend.wire
        d.vendorID = vendorID
        d.deviceID = deviceID
        d.driver = driver
        d.migrationFlags = migrationCapabilities.rawValue
        d.dmaLogging = dmaLogging
        d.savingLayoutHandshake = savingLayoutHandshake
        d.migrationVersion = migrationVersion
        d.vmID = vmID
        d.state = state.wire
        d.stopCopyBytes = stopCopyBytes
        return d
    }
}

extension VM {
    public init(wire: Ferry_V1_Vm, field: String) throws(ConversionError) {
        guard !wire.vmID.isEmpty else { throw ConversionError(field: "\(field).vm_id", reason: "is empty") }
        self.init(
            id: wire.vmID, ramBytes: wire.ramBytes, vcpus: Int(wire.vcpus), deviceIDs: wire.deviceIds,
            state: VMState(wire: wire.state), dirtyRateBytesPerSec: wire.dirtyRateBytesPerSec, pid: Int(wire.pid))
    }

    public var wire: Ferry_V1_Vm {
        var v = Ferry_V1_Vm()
        v.vmID = id
        v.ramBytes = ramBytes
        v.vcpus = UInt32(clamping: vcpus)
        v.deviceIds = deviceIDs
        v.state = state.wire
        v.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        v.pid = UInt32(clamping: pid)
        return v
    }
}

extension HostInventory {
    /// Validates and converts an agent's Inventory. Device and VM ids must be unique on the host.
    public init(wire: Ferry_V1_Inventory) throws(ConversionError) {
        var devices: [Device] = []
        var deviceIDs = Set<String>()
        for (index, device) in wire.devices.enumerated() {
            let converted = try Device(wire: device, field: "devices[\(index)]")
            guard deviceIDs.insert(converted.id).inserted else {
                throw ConversionError(field: "devices[\(index)].id", reason: "'\(converted.id)' is listed twice")
            }
            devices.append(converted)
        }
        var vms: [VM] = []
        var vmIDs = Set<String>()
        for (index, vm) in wire.vms.enumerated() {
            let converted = try VM(wire: vm, field: "vms[\(index)]")
            guard vmIDs.insert(converted.id).inserted else {
                throw ConversionError(field: "vms[\(index)].vm_id", reason: "'\(converted.id)' is listed twice")
            }
            vms.append(converted)
        }
        self.init(
            cpuCount: Int(wire.cpuCount), memoryBytes: wire.memoryBytes, freeMemoryBytes: wire.freeMemoryBytes,
            agentVersion: wire.agentVersion, kernelRelease: wire.kernelRelease, dataAddress: wire.dataAddress,
            devices: devices, vms: vms)
    }
}
