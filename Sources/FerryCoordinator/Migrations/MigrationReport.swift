import FerryWire

/// A frame an agent sends about one migration on its control link, routed to that migration's driver.
public enum MigrationReport: Sendable, Equatable {
    case commandResult(Ferry_V1_CommandResult)
    case progress(Ferry_V1_Progress)
    case event(Ferry_V1_Event)

    /// The report of a control-link message, nil for messages that are not about a migration.
    public init?(_ message: WireMessage) {
        switch message {
        case .commandResult(let result): self = .commandResult(result)
        case .progress(let progress): self = .progress(progress)
        case .event(let event): self = .event(event)
        default: return nil
        }
    }

    /// Empty for host events (an Event without a migration).
    public var migrationID: String {
        switch self {
        case .commandResult(let r): r.migrationID
        case .progress(let p): p.migrationID
        case .event(let e): e.migrationID
        }
    }
}

/// Where the registry delivers migration reports and host link changes (the migration supervisor).
public protocol MigrationReportSink: Sendable {
    func deliver(_ report: MigrationReport, from hostID: String) async
    /// The host's agent (re)connected and sent its first inventory: outstanding commands can go out again.
    func hostConnected(_ hostID: String) async
    func hostDisconnected(_ hostID: String) async
}

/// Sends commands to agents and tells what their inventories say. The registry in ferryd; a fake in tests.
public protocol AgentCommandLink: Sendable {
    /// Queues the command on the host's live connection; false when the host has none.
    func send(_ command: Ferry_V1_Command, to hostID: String) async -> Bool
    /// The VM as the host's agent last reported it, with its devices (for PrepareDestination).
    func reportedVM(_ vmID: String, on hostID: String) async -> (vm: Ferry_V1_Vm, devices: [Ferry_V1_Device])?
    func isConnected(_ hostID: String) async -> Bool
}
