import FerryModel
import FerryWire
import Testing

@testable import FerryCoordinator

@Suite struct WireConversionTests {
    @Test("device states: wire value is the kernel value + 1", arguments: DeviceState.allCases)
    func deviceStates(state: DeviceState) {
        #expect(DeviceState(wire: state.wire) == state)
        if state == .unknown {
            #expect(state.kernelValue == nil)
        } else {
            #expect(state.kernelValue.map { Int($0) + 1 } == state.wire.rawValue)
        }
    }

    @Test(
        "kernel values by name: ERROR 0, STOP 1, RUNNING 2, STOP_COPY 3, RESUMING 4, P2P 5, PRE_COPY 6, PRE_COPY_P2P 7")
    func kernelValues() {
        let expected: [(DeviceState, UInt32)] = [
            (.error, 0), (.stop, 1), (.running, 2), (.stopCopy, 3), (.resuming, 4), (.runningP2P, 5), (.preCopy, 6),
            (.preCopyP2P, 7),
        ]
        for (state, value) in expected { #expect(state.kernelValue == value, "\(state)") }
        #expect(DeviceState(wire: .UNRECOGNIZED(42)) == .unknown)
    }

    @Test("VM states round-trip", arguments: VMState.allCases)
    func vmStates(state: VMState) {
        #expect(VMState(wire: state.wire) == state)
    }

    @Test("a device round-trips model -> wire -> model")
    func deviceRoundTrip() throws {
        let device = Device(
            id: "0000:3b:00.1", backend: .vfio, vendorID: 0x8086, deviceID: 0x1889, driver: "ice-vfio-pci",
            migrationCapabilities: [.stopCopy, .p2p], dmaLogging: true, savingLayoutHandshake: true,
            migrationVersion: "ice/2", vmID: "vm-1", state: .stopCopy, stopCopyBytes: 1 << 26)
        #expect(try Device(wire: device.wire, field: "d") == device)
    }

    @Test("inventory converts every field, with unknown capability bits dropped")
    func inventory() throws {
        var wire = Ferry_V1_Inventory()
        wire.cpuCount = 2
        wire.memoryBytes = 25_769_803_776
        wire.freeMemoryBytes = 20_000_000_000
        wire.agentVersion = "0.1.0"
        wire.kernelRelease = "6.18.44"
        wire.dataAddress = "10.0.0.1:7100"
        var device = Ferry_V1_Device()
        device.id = "sim0"
        device.backend = .sim
        device.migrationFlags = 7 | 64
        device.state = .preCopyP2P
        wire.devices = [device]
        var vm = Ferry_V1_Vm()
        vm.vmID = "vm-1"
        vm.vcpus = 2
        vm.pid = 4242
        vm.deviceIds = ["sim0"]
        vm.state = .migrating
        wire.vms = [vm]
        let inventory = try HostInventory(wire: wire)
        #expect(inventory.cpuCount == 2 && inventory.memoryBytes == 25_769_803_776)
        #expect(inventory.kernelRelease == "6.18.44" && inventory.dataAddress == "10.0.0.1:7100")
        #expect(inventory.devices.first?.migrationCapabilities == [.stopCopy, .p2p, .preCopy])
        #expect(inventory.devices.first?.state == .preCopyP2P)
        #expect(
            inventory.vms == [
                VM(
                    id: "vm-1", ramBytes: 0, vcpus: 2, deviceIDs: ["sim0"], state: .migrating, dirtyRateBytesPerSec: 0,
                    pid: 4242)
            ])
    }

    @Test("invalid inventories name the field")
    func invalid() {
        var device = Ferry_V1_Device()
        device.id = "sim0"
        device.backend = .sim
        var wire = Ferry_V1_Inventory()
        wire.devices = [device, device]
        #expect(throws: ConversionError(field: "devices[1].id", reason: "'sim0' is listed twice")) {
            try HostInventory(wire: wire)
        }
        device.backend = .UNRECOGNIZED(9)
        wire.devices = [device]
        #expect(throws: ConversionError(field: "devices[0].backend", reason: "unknown backend 9")) {
            try HostInventory(wire: wire)
        }
        wire.devices = []
        wire.vms = [Ferry_V1_Vm()]
        #expect(throws: ConversionError(field: "vms[0].vm_id", reason: "is empty")) { try HostInventory(wire: wire) }
    }
}
