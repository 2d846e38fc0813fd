import FerryModel
import Foundation
import Testing

@Suite("FerryJSON coding of the domain model")
struct JSONCodingTests {
    static let device = Device(
        id: "0000:65:00.0", backend: .vfio, vendorID: 0x10de, deviceID: 0x2330, driver: "nvgrace_gpu_vfio_pci",
        migrationCapabilities: [.stopCopy, .preCopy], dmaLogging: true, savingLayoutHandshake: false,
        migrationVersion: "535.1", vmID: "vm-1", state: .preCopyP2P, stopCopyBytes: 1 << 20)
    static let vm = VM(
        id: "vm-1", ramBytes: 8 << 30, vcpus: 8, deviceIDs: ["0000:65:00.0"], state: .migrating,
        dirtyRateBytesPerSec: 3 << 20, pid: 1234)
    static let host = HypervisorHost(
        id: "host-a", status: .ready, agentVersion: "0.1.0", protocolVersion: 1, controlAddress: "10.0.0.1:40000",
        dataAddress: "10.0.0.1:7101", kernelRelease: "6.8.0", cpuCount: 32, memoryBytes: 64 << 30,
        freeMemoryBytes: 48 << 30, devices: [device], vms: [vm],
        firstSeen: Date(timeIntervalSince1970: 1_764_000_000), lastSeen: Date(timeIntervalSince1970: 1_764_000_100),
        statusChangedAt: Date(timeIntervalSince1970: 1_764_000_050))

    @Test func hostRoundTripsThroughFerryJSON() throws {
        let data = try FerryJSON.encoder().encode(Self.host)
        #expect(try FerryJSON.decoder().decode(HypervisorHost.self, from: data) == Self.host)
    }

    @Test func keysAreSnakeCaseAndIDsReadNaturally() throws {
        let object = try #require(
            try JSONSerialization.jsonObject(with: FerryJSON.encoder().encode(Self.host)) as? [String: Any])
        #expect(object["first_seen"] as? String == "2025-11-24T16:00:00Z")
        #expect(object["free_memory_bytes"] as? Int == 48 << 30)
        let device = try #require((object["devices"] as? [[String: Any]])?.first)
        #expect(
            Set(device.keys) == [
                "id", "backend", "vendor_id", "device_id", "driver", "migration_capabilities", "dma_logging",
                "saving_layout_handshake", "migration_version", "vm_id", "state", "stop_copy_bytes",
            ])
        #expect(device["state"] as? String == "pre_copy_p2p")
        let vm = try #require((object["vms"] as? [[String: Any]])?.first)
        #expect(vm["device_ids"] as? [String] == ["0000:65:00.0"])
        #expect(vm["dirty_rate_bytes_per_sec"] as? Int == 3 << 20)
    }

    @Test(
        arguments: [
            (MigrationCapabilities([]), "[]"),
            ([.stopCopy], #"["stop_copy"]"#),
            ([.preCopy, .stopCopy, .p2p], #"["stop_copy","p2p","pre_copy"]"#),
        ] as [(MigrationCapabilities, String)])
    func migrationCapabilitiesAreNamesInBitOrder(caps: MigrationCapabilities, json: String) throws {
        let encoder = JSONEncoder()
        #expect(String(decoding: try encoder.encode(caps), as: UTF8.self) == json)
        #expect(try JSONDecoder().decode(MigrationCapabilities.self, from: Data(json.utf8)) == caps)
    }

    @Test func unknownCapabilityNameIsRejected() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(MigrationCapabilities.self, from: Data(#"["stop_copy","teleport"]"#.utf8))
        }
    }

    @Test func capabilityBitsMatchTheKernel() {
        // include/uapi/linux/vfio.h: VFIO_MIGRATION_STOP_COPY 1, _P2P 2, _PRE_COPY 4.
        #expect(MigrationCapabilities.stopCopy.rawValue == 1)
        #expect(MigrationCapabilities.p2p.rawValue == 2)
        #expect(MigrationCapabilities.preCopy.rawValue == 4)
    }
}
