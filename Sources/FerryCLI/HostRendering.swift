import FerryModel
import Foundation

/// What `ferryctl hosts` and `ferryctl hosts show` print for people. Pure: `now` is a parameter.
public enum HostRendering {
    /// The host list: one line per host.
    public static func table(_ hosts: [HypervisorHost], now: Date) -> String {
        guard !hosts.isEmpty else { return "No hosts registered.\n" }
        return TextTable(
            headers: ["ID", "STATUS", "CPUS", "MEMORY", "FREE", "DEVICES", "VMS", "AGENT", "LAST SEEN"],
            rows: hosts.map { host in
                [
                    host.id, host.status.rawValue, "\(host.cpuCount)", Formatting.bytes(host.memoryBytes),
                    Formatting.bytes(host.freeMemoryBytes), "\(host.devices.count)", "\(host.vms.count)",
                    host.agentVersion, Formatting.age(of: host.lastSeen, now: now),
                ]
            }
        ).render()
    }

    /// One host in full: identity, liveness, resources, then its devices and VMs as tables.
    public static func detail(_ host: HypervisorHost, now: Date) -> String {
        let fields: [(String, String)] = [
            ("Host", host.id),
            ("Status", "\(host.status.rawValue) since \(Formatting.timestamp(host.statusChangedAt))"),
            ("Agent", "\(host.agentVersion) (protocol \(host.protocolVersion))"),
            ("Kernel", host.kernelRelease),
            ("Control address", host.controlAddress),
            ("Data address", host.dataAddress),
            ("CPUs", "\(host.cpuCount)"),
            ("Memory", "\(Formatting.bytes(host.memoryBytes)) (\(Formatting.bytes(host.freeMemoryBytes)) free)"),
            ("First seen", Formatting.timestamp(host.firstSeen)),
            (
                "Last seen",
                "\(Formatting.timestamp(host.lastSeen)) (\(Formatting.age(of: host.lastSeen, now: now)))"
            ),
        ]
        let labelWidth = (fields.map(\.0.count).max() ?? 0) + 1
        var text = fields.map { label, value in
            "\(label):".padding(toLength: labelWidth, withPad: " ", startingAt: 0) + " " + value + "\n"
        }.joined()

        text += "\nDevices (\(host.devices.count)):\n"
        if !host.devices.isEmpty {
            text += TextTable(
                headers: [
                    "ID", "BACKEND", "VENDOR:DEVICE", "DRIVER", "CAPABILITIES", "DMA LOG", "LAYOUT HANDSHAKE",
                    "MIGRATION VERSION", "STATE", "STOP-COPY", "VM",
                ],
                rows: host.devices.map { device in
                    [
                        device.id, device.backend.rawValue,
                        Formatting.pciID(vendor: device.vendorID, device: device.deviceID), device.driver,
                        orDash(device.migrationCapabilities.names.joined(separator: ",")), yesNo(device.dmaLogging),
                        yesNo(device.savingLayoutHandshake), orDash(device.migrationVersion), device.state.rawValue,
                        Formatting.bytes(device.stopCopyBytes), orDash(device.vmID),
                    ]
                }
            ).render()
        }

        text += "\nVMs (\(host.vms.count)):\n"
        if !host.vms.isEmpty {
            text += TextTable(
                headers: ["ID", "STATE", "VCPUS", "RAM", "DIRTY RATE", "PID", "DEVICES"],
                rows: host.vms.map { vm in
                    [
                        vm.id, vm.state.rawValue, "\(vm.vcpus)", Formatting.bytes(vm.ramBytes),
                        "\(Formatting.bytes(vm.dirtyRateBytesPerSec))/s", "\(vm.pid)",
                        orDash(vm.deviceIDs.joined(separator: ",")),
                    ]
                }
            ).render()
        }
        return text
    }

    static func orDash(_ text: String) -> String { text.isEmpty ? "-" : text }
    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }
}
