import FerryModel
import FerryStore
import Foundation
import Testing

/// Sample hosts with every field set to something distinct, so a column mix-up shows.
enum Fixtures {
    /// Millisecond-exact: the store keeps times to the millisecond (GRDB's date format).
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000.125)

    static func device(_ id: String, vm: String = "", state: DeviceState = .running) -> Device {
        Device(
            id: id, backend: .sim, vendorID: 0x10de, deviceID: 0x2330, driver: "ferry-sim",
            migrationCapabilities: [.stopCopy, .p2p, .preCopy], dmaLogging: true, savingLayoutHandshake: true,
            migrationVersion: "sim-1.2", vmID: vm, state: state, stopCopyBytes: 64 << 20)
    }

    static func vm(_ id: String, devices: [String]) -> VM {
        VM(
            id: id, ramBytes: 4 << 30, vcpus: 4, deviceIDs: devices, state: .running,
            dirtyRateBytesPerSec: 150 << 20, pid: 4242)
    }

    static func host(
        _ id: String, status: HostStatus = .ready, devices: [Device] = [], vms: [VM] = [],
        firstSeen: Date = t0, lastSeen: Date = t0
    ) -> HypervisorHost {
        HypervisorHost(
            id: id, status: status, agentVersion: "0.1.0", protocolVersion: 1,
            controlAddress: "10.0.0.7:53412", dataAddress: "10.0.0.7:7101", kernelRelease: "6.8.0-ferry",
            cpuCount: 16, memoryBytes: 24 << 30, freeMemoryBytes: 20 << 30, devices: devices, vms: vms,
            firstSeen: firstSeen, lastSeen: lastSeen, statusChangedAt: firstSeen)
    }

    /// A host with two devices (one free) and one VM, in a non-sorted order.
    static func fullHost(_ id: String = "host-a") -> HypervisorHost {
        host(
            id,
            devices: [
                device("0000:65:00.0", vm: "vm-1"),
                Device(
                    id: "0000:17:00.0", backend: .vfio, vendorID: 0x15b3, deviceID: 0x101e, driver: "mlx5_vfio_pci",
                    migrationCapabilities: [.stopCopy], dmaLogging: false, savingLayoutHandshake: false,
                    migrationVersion: "", vmID: "", state: .unknown, stopCopyBytes: 0),
            ],
            vms: [vm("vm-1", devices: ["0000:65:00.0"]), vm("vm-0", devices: [])])
    }
}

/// Where a test's database lives: the same tests run against both.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case file

    var testDescription: String { rawValue }

    /// A fresh store; file stores live in a temporary directory removed by `cleanup`.
    func makeStore() throws -> (store: SQLiteStore, cleanup: @Sendable () -> Void) {
        switch self {
        case .inMemory:
            return (try SQLiteStore.inMemory(), {})
        case .file:
            let dir = try TemporaryDirectory()
            return (try SQLiteStore(path: dir.path("ferry.sqlite")), { dir.remove() })
        }
    }
}

/// A directory under the system temp dir, unique per call.
struct TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
