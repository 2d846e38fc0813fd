import FerryCLI
import FerryModel
import Foundation
import Testing

@Suite("Table rendering and formatting")
struct RenderingTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000)

    static func host(_ id: String, status: HostStatus, devices: [Device] = []) -> HypervisorHost {
        HypervisorHost(
            id: id, status: status, agentVersion: "0.1.0", protocolVersion: 1, controlAddress: "127.0.0.1:40000",
            dataAddress: "127.0.0.1:7101", kernelRelease: "6.18.0", cpuCount: 2, memoryBytes: 24 << 30,
            freeMemoryBytes: 3 << 29, devices: devices, vms: [], firstSeen: t0, lastSeen: t0, statusChangedAt: t0)
    }

    @Test func tableColumnsAreAlignedWithoutTrailingSpaces() {
        let text = TextTable(headers: ["ID", "STATUS"], rows: [["host-a", "ready"], ["b", "unreachable"]]).render()
        #expect(text == "ID      STATUS\nhost-a  ready\nb       unreachable\n")
    }

    @Test func shortRowsArePaddedNotCrashed() {
        let text = TextTable(headers: ["A", "B", "C"], rows: [["x"]]).render()
        #expect(text == "A  B  C\nx\n")
    }

    @Test(arguments: [
        (UInt64(0), "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (24 << 30, "24.0 GiB"),
        (UInt64.max, "16.0 EiB"),
    ])
    func bytesUseBinaryUnits(count: UInt64, expected: String) {
        #expect(Formatting.bytes(count) == expected)
    }

    @Test func ageIsCoarseAndNeverNegative() {
        #expect(Formatting.age(of: Self.t0, now: Self.t0.addingTimeInterval(59.9)) == "59s ago")
        #expect(Formatting.age(of: Self.t0, now: Self.t0.addingTimeInterval(61)) == "1m ago")
        #expect(Formatting.age(of: Self.t0, now: Self.t0.addingTimeInterval(7200)) == "2h ago")
        #expect(Formatting.age(of: Self.t0, now: Self.t0.addingTimeInterval(3 * 86400)) == "3d ago")
        #expect(Formatting.age(of: Self.t0, now: Self.t0.addingTimeInterval(-30)) == "0s ago")
    }

    @Test func pciIDsLookLikeLspci() {
        #expect(Formatting.pciID(vendor: 0x10de, device: 0x2330) == "10de:2330")
        #expect(Formatting.pciID(vendor: 0x1, device: 0xabc) == "0001:0abc")
    }

    @Test func hostListShowsOneLinePerHost() {
        let text = HostRendering.table(
            [Self.host("host-a", status: .ready), Self.host("host-b", status: .unreachable)],
            now: Self.t0.addingTimeInterval(5))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("ID "))
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true).prefix(2) == ["host-a", "ready"])
        #expect(lines[2].split(separator: " ", omittingEmptySubsequences: true).prefix(2) == ["host-b", "unreachable"])
        #expect(lines[1].hasSuffix("5s ago"))
    }

    @Test func emptyHostListSaysSo() {
        #expect(HostRendering.table([], now: Self.t0) == "No hosts registered.\n")
    }

    @Test func hostDetailListsDevicesWithCapabilities() {
        let device = Device(
            id: "sim-a0", backend: .sim, vendorID: 0x1af4, deviceID: 0x1041, driver: "ferry-sim",
            migrationCapabilities: [.stopCopy, .p2p], dmaLogging: true, savingLayoutHandshake: false,
            migrationVersion: "sim-1", vmID: "", state: .unknown, stopCopyBytes: 64 << 20)
        let text = HostRendering.detail(Self.host("host-a", status: .ready, devices: [device]), now: Self.t0)
        #expect(text.contains("Host:            host-a\n"))
        #expect(text.contains("Devices (1):\n"))
        let deviceLine = text.split(separator: "\n").first { $0.hasPrefix("sim-a0") }
        let cells = deviceLine?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
        #expect(
            cells == [
                "sim-a0", "sim", "1af4:1041", "ferry-sim", "stop_copy,p2p", "yes", "no", "sim-1", "unknown",
                "64.0", "MiB", "-",
            ])
        #expect(text.contains("VMs (0):\n"))
    }
}
