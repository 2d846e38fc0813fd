/// Everything that can go wrong in the store, with enough context to act on it.
/// SQLite/GRDB errors are wrapped here at the module boundary.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The database file could not be opened or created.
    case open(path: String, reason: String)
    /// A schema migration failed; the database is left at its previous version.
    case migration(version: String, reason: String)
    /// The database was written by a newer ferryd than this one.
    case newerSchema(found: [String])
    /// A read or write failed.
    case query(operation: String, reason: String)
    /// A stored row cannot be turned back into a model value.
    case corruptRow(table: String, key: String, reason: String)
    /// An update named a host that was never registered (upsertHost first).
    case unknownHost(id: String)
    /// An update named a migration that is not stored.
    case unknownMigration(id: String)
    /// A transition expected the migration in one phase, but it is in another (someone else moved it).
    case phaseConflict(migrationID: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .open(let path, let reason): "cannot open database \(path): \(reason)"
        case .migration(let version, let reason): "schema migration \(version) failed: \(reason)"
        case .newerSchema(let found):
            "database has schema versions this ferryd does not know (\(found.joined(separator: ", "))): it was written by a newer ferryd"
        case .query(let operation, let reason): "\(operation) failed: \(reason)"
        case .corruptRow(let table, let key, let reason): "corrupt row \(key) in \(table): \(reason)"
        case .unknownHost(let id): "no host '\(id)' is known"
        case .unknownMigration(let id): "no migration '\(id)' is known"
        case .phaseConflict(let id, let expected, let found):
            "migration \(id) is in phase \(found), not \(expected)"
        }
    }
}
