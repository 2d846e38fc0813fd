/// Which agent of a migration a command goes to.
public enum MigrationRole: String, Codable, Sendable, CaseIterable {
    case source, destination
}

/// A command for one agent, mirroring the bodies of `ferry.v1.Command` (the driver turns it into
/// the wire message; this module has no wire dependency).
public enum AgentCommandBody: Sendable, Equatable {
    /// Reserve memory and matching devices, listen for data channels with the migration's token.
    case prepareDestination
    /// Attach dirty tracking, open `channels` data channels to the destination's `dataAddress`.
    case prepareSource(destinationAddress: String)
    case startPrecopy(MigrationPolicy, throttlePercent: UInt32)
    case adjustPolicy(MigrationPolicy, throttlePercent: UInt32)
    case forceCutover
    case abort(reason: String)
    case queryMigration

    /// The proto oneof field's name, for logs and table-driven tests.
    public var name: String {
        switch self {
        case .prepareDestination: "prepare_destination"
        case .prepareSource: "prepare_source"
        case .startPrecopy: "start_precopy"
        case .adjustPolicy: "adjust_policy"
        case .forceCutover: "force_cutover"
        case .abort: "abort"
        case .queryMigration: "query_migration"
        }
    }
}

/// A command with its target and sequence number. `seq` increases strictly per migration across
/// both agents, so an agent seeing a repeat returns the recorded result instead of acting twice.
public struct AgentCommand: Sendable, Equatable {
    public var role: MigrationRole
    public var seq: UInt64
    public var body: AgentCommandBody

    public init(role: MigrationRole, seq: UInt64, body: AgentCommandBody) {
        self.role = role
        self.seq = seq
        self.body = body
    }
}
