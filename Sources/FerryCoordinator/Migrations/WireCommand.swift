import FerryModel
import FerryWire
import Foundation

/// Turns the phase machine's commands into `ferry.v1.Command` messages.
enum WireCommand {
    /// What a command needs beyond its body: the migration, its token and the source VM as reported.
    struct Context {
        var migration: Migration
        var token: Data
        var channels: UInt32
        var sourceVM: (vm: Ferry_V1_Vm, devices: [Ferry_V1_Device])?
    }

    static func make(_ command: AgentCommand, _ context: Context) -> Ferry_V1_Command {
        var wire = Ferry_V1_Command()
        wire.migrationID = context.migration.id
        wire.seq = command.seq
        let m = context.migration
        switch command.body {
        case .prepareDestination:
            var body = Ferry_V1_PrepareDestination()
            body.vmID = m.vmID
            body.sourceHostID = m.sourceHostID
            body.ramBytes = context.sourceVM?.vm.ramBytes ?? m.ramBytes
            body.token = context.token
            body.channels = context.channels
            if let source = context.sourceVM {
                body.vcpus = source.vm.vcpus
                body.launchArgs = source.vm.launchArgs
                body.devices = source.devices
            }
            wire.prepareDestination = body
        case .prepareSource(let address):
            var body = Ferry_V1_PrepareSource()
            body.vmID = m.vmID
            body.destinationHostID = m.destinationHostID
            body.destinationAddress = address
            body.token = context.token
            body.channels = context.channels
            wire.prepareSource = body
        case .startPrecopy(let policy, let throttle):
            var body = Ferry_V1_StartPrecopy()
            body.policy = wirePolicy(policy, throttle: throttle)
            wire.startPrecopy = body
        case .adjustPolicy(let policy, let throttle):
            var body = Ferry_V1_AdjustPolicy()
            body.policy = wirePolicy(policy, throttle: throttle)
            wire.adjustPolicy = body
        case .forceCutover:
            wire.forceCutover = Ferry_V1_ForceCutover()
        case .abort(let reason):
            var body = Ferry_V1_Abort()
            body.reason = reason
            wire.abort = body
        case .queryMigration:
            wire.queryMigration = Ferry_V1_QueryMigration()
        }
        return wire
    }

    static func wirePolicy(_ policy: MigrationPolicy, throttle: UInt32) -> Ferry_V1_MigrationPolicy {
        var wire = Ferry_V1_MigrationPolicy()
        wire.maxDowntimeMs = policy.maxDowntimeMs
        wire.bandwidthBytesPerSec = policy.bandwidthBytesPerSec
        wire.maxRounds = policy.maxRounds
        wire.channels = policy.channels
        wire.throttlePercent = throttle
        return wire
    }

    /// A fresh random data-channel token, as hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func tokenBytes(_ hex: String) -> Data {
        var data = Data()
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index < hex.endIndex {
            if let byte = UInt8(hex[index..<next], radix: 16) { data.append(byte) }
            index = next
        }
        return data
    }

    /// The agent phase's name as status shows it.
    static func phaseName(_ phase: Ferry_V1_AgentPhase) -> String {
        switch phase {
        case .prepared: "prepared"
        case .precopy: "precopy"
        case .cutover: "cutover"
        case .resuming: "resuming"
        case .completed: "completed"
        case .rolledBack: "rolled_back"
        case .failed: "failed"
        case .unspecified, .UNRECOGNIZED: "unknown"
        }
    }
}
