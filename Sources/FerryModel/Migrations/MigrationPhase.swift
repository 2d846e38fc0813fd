/// Where one migration stands. `pending → scheduled → preparing → precopy → cutover → resuming →
/// completed`; `failed`, `cancelled` and `rolled_back` are the other endings.
public enum MigrationPhase: String, Codable, Sendable, CaseIterable, Comparable {
    /// Stored, waiting for the scheduler.
    case pending
    /// Admitted by the scheduler (holds its slots), no command sent yet.
    case scheduled
    /// Destination reserving and listening, source attaching dirty tracking.
    case preparing
    /// Memory and device pre-copy rounds, VM running on the source.
    case precopy
    /// vCPUs stopped, last pages and device state in flight.
    case cutover
    /// The destination confirmed it runs the VM: the point of no return is behind.
    case resuming
    case completed
    /// Ended badly where rollback was not possible (or itself failed).
    case failed
    /// Cancelled by the operator; the VM stays (or went back) on the source.
    case cancelled
    /// Aborted by ferryd's policy or an agent failure; the VM runs on the source again.
    case rolledBack = "rolled_back"

    public var isTerminal: Bool { [.completed, .failed, .cancelled, .rolledBack].contains(self) }

    /// Holds scheduler slots (admitted and not ended).
    public var isActive: Bool { !isTerminal && self != .pending }

    /// After the destination confirmed, the VM cannot go back: cancel is refused.
    public var isPastPointOfNoReturn: Bool { self == .resuming || self == .completed }

    /// Order along the happy path, endings last; used only for sorting.
    public static func < (lhs: MigrationPhase, rhs: MigrationPhase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
