import GRDB

/// Ferry's SQLite schema, one migration per version. The tables are the documentation of what
/// ferryd knows about the cluster: every column says what it holds and NOT NULL / CHECK say what a
/// valid row is, so a bad write fails in SQLite instead of being read back as nonsense later.
///
/// Rules: a released migration is never edited, only followed by a new one; identifiers are
/// `v1`, `v2`, ... in order. A database that holds identifiers this build does not know was
/// written by a newer ferryd and is refused (`StoreError.newerSchema`).
public enum Schema {
    /// Every migration this build knows, oldest first.
    public static let versions = ["v1", "v2", "v3", "v4", "v5"]

    /// The migrator that owns the versions above.
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createHosts)
        migrator.registerMigration("v2", migrate: createHostInventory)
        migrator.registerMigration("v3", migrate: createPlansMigrationsEvents)
        migrator.registerMigration("v4", migrate: createMigrationRuntime)
        migrator.registerMigration("v5", migrate: indexAgentWaits)
        return migrator
    }

    /// v1: hosts as their agents describe themselves on registration.
    static func createHosts(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE hosts (
                    -- The agent's --host-id: stable across agent restarts and reboots.
                    id                 TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
                    status             TEXT    NOT NULL CHECK (status IN ('ready', 'unreachable')),
                    agent_version      TEXT    NOT NULL,
                    protocol_version   INTEGER NOT NULL CHECK (protocol_version >= 1),
                    -- HOST:PORT the control link came from, and where the agent takes data channels.
                    control_address    TEXT    NOT NULL,
                    data_address       TEXT    NOT NULL,
                    kernel_release     TEXT    NOT NULL,
                    cpu_count          INTEGER NOT NULL CHECK (cpu_count >= 0),
                    memory_bytes       INTEGER NOT NULL CHECK (memory_bytes >= 0),
                    free_memory_bytes  INTEGER NOT NULL CHECK (free_memory_bytes >= 0),
                    -- UTC, 'YYYY-MM-DD HH:MM:SS.SSS' (GRDB's date format).
                    first_seen         TEXT    NOT NULL,
                    last_seen          TEXT    NOT NULL,
                    status_changed_at  TEXT    NOT NULL
                ) STRICT
                """)
    }

    /// v2: each host's passthrough devices and VMs (its inventory), replaced as a whole whenever
    /// the agent sends a new INVENTORY; and an index for "which hosts are ready".
    static func createHostInventory(_ db: Database) throws {
        let deviceBackends = sqlList(["vfio", "sim"])
        let deviceStates = sqlList([
            "error", "stop", "running", "stop_copy", "resuming", "running_p2p", "pre_copy", "pre_copy_p2p",
            "unknown",
        ])
        let vmStates = sqlList(["running", "frozen", "incoming", "migrating", "unknown"])
        try db.execute(
            sql: """
                CREATE TABLE host_devices (
                    host_id                  TEXT    NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    -- The device's name on its host (e.g. its PCI address or a sim device name).
                    id                       TEXT    NOT NULL CHECK (id <> ''),
                    -- Order in the agent's inventory, kept so a host reads back as it was reported.
                    position                 INTEGER NOT NULL CHECK (position >= 0),
                    backend                  TEXT    NOT NULL CHECK (backend IN (\(deviceBackends))),
                    pci_vendor_id            INTEGER NOT NULL CHECK (pci_vendor_id BETWEEN 0 AND 4294967295),
                    pci_device_id            INTEGER NOT NULL CHECK (pci_device_id BETWEEN 0 AND 4294967295),
                    driver                   TEXT    NOT NULL,
                    -- VFIO_MIGRATION_* bits: 1 stop_copy, 2 p2p, 4 pre_copy.
                    migration_capabilities   INTEGER NOT NULL CHECK (migration_capabilities BETWEEN 0 AND 4294967295),
                    dma_logging              INTEGER NOT NULL CHECK (dma_logging IN (0, 1)),
                    saving_layout_handshake  INTEGER NOT NULL CHECK (saving_layout_handshake IN (0, 1)),
                    -- Opaque string two devices must agree on to migrate between them.
                    migration_version        TEXT    NOT NULL,
                    -- VM the device is attached to; NULL when the device is free.
                    vm_id                    TEXT    CHECK (vm_id <> ''),
                    state                    TEXT    NOT NULL CHECK (state IN (\(deviceStates))),
                    stop_copy_bytes          INTEGER NOT NULL CHECK (stop_copy_bytes >= 0),
                    PRIMARY KEY (host_id, id),
                    UNIQUE (host_id, position)
                ) STRICT;

                CREATE TABLE host_vms (
                    host_id                   TEXT    NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
                    id                        TEXT    NOT NULL CHECK (id <> ''),
                    position                  INTEGER NOT NULL CHECK (position >= 0),
                    ram_bytes                 INTEGER NOT NULL CHECK (ram_bytes >= 0),
                    vcpus                     INTEGER NOT NULL CHECK (vcpus >= 0),
                    -- JSON array of device ids, in the VM's order.
                    device_ids                TEXT    NOT NULL CHECK (json_valid(device_ids) AND json_type(device_ids) = 'array'),
                    state                     TEXT    NOT NULL CHECK (state IN (\(vmStates))),
                    -- Last measured dirty rate; 0 if never tracked.
                    dirty_rate_bytes_per_sec  INTEGER NOT NULL CHECK (dirty_rate_bytes_per_sec >= 0),
                    pid                       INTEGER NOT NULL,
                    PRIMARY KEY (host_id, id),
                    UNIQUE (host_id, position)
                ) STRICT;

                CREATE INDEX hosts_by_status ON hosts(status);
                """)
    }

    /// The phases a migration can be in, as stored (MigrationPhase's raw values).
    static let migrationPhases = [
        "pending", "scheduled", "preparing", "precopy", "cutover", "resuming", "completed", "failed", "cancelled",
        "rolled_back",
    ]

    /// v3: plans as submitted, the migrations they resolved to (phase and the time each phase was
    /// entered), and the append-only event history. Indexes serve `status` and `events` reads:
    /// by plan, by unfinished phase, and events by migration (or plan) in history order.
    static func createPlansMigrationsEvents(_ db: Database) throws {
        let phases = sqlList(migrationPhases)
        let phaseColumns = migrationPhases.map { "    \($0)_at TEXT," }.joined(separator: "\n")
        try db.execute(
            sql: """
                CREATE TABLE plans (
                    id            TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
                    name          TEXT    NOT NULL CHECK (name <> ''),
                    -- The file name the operator submitted and its text, kept for audit.
                    file_name     TEXT    NOT NULL,
                    source        TEXT    NOT NULL,
                    -- MigrationPolicy as FerryJSON.
                    policy        TEXT    NOT NULL CHECK (json_valid(policy)),
                    submitted_at  TEXT    NOT NULL
                ) STRICT;

                CREATE TABLE migrations (
                    id                   TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
                    plan_id              TEXT    NOT NULL REFERENCES plans(id),
                    -- Order in the plan once evacuations are expanded: the scheduler's tie-break.
                    position             INTEGER NOT NULL CHECK (position >= 0),
                    vm_id                TEXT    NOT NULL CHECK (vm_id <> ''),
                    source_host_id       TEXT    NOT NULL CHECK (source_host_id <> ''),
                    destination_host_id  TEXT    NOT NULL CHECK (destination_host_id <> '' AND destination_host_id <> source_host_id),
                    wave                 INTEGER NOT NULL CHECK (wave >= 1),
                    priority             INTEGER NOT NULL,
                    ram_bytes            INTEGER NOT NULL CHECK (ram_bytes >= 0),
                    phase                TEXT    NOT NULL CHECK (phase IN (\(phases))),
                    -- Last command sequence number sent (commands are idempotent per seq).
                    command_seq          INTEGER NOT NULL CHECK (command_seq >= 0),
                    -- Why it failed, was cancelled or rolled back; '' otherwise.
                    reason               TEXT    NOT NULL,
                    -- When each phase was entered; NULL for phases it never reached.
                \(phaseColumns)
                    UNIQUE (plan_id, position)
                ) STRICT;

                CREATE TABLE events (
                    -- The history's order; AUTOINCREMENT so a number is never reused.
                    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                    at            TEXT    NOT NULL,
                    plan_id       TEXT    NOT NULL REFERENCES plans(id),
                    -- '' for plan-level events.
                    migration_id  TEXT    NOT NULL,
                    kind          TEXT    NOT NULL CHECK (kind <> ''),
                    message       TEXT    NOT NULL,
                    -- JSON object of string values: the decision's inputs and other details.
                    attributes    TEXT    NOT NULL CHECK (json_valid(attributes) AND json_type(attributes) = 'object')
                ) STRICT;

                CREATE INDEX migrations_by_plan ON migrations(plan_id, position);
                -- Partial: the scheduler and recovery read only unfinished migrations, a small set.
                CREATE INDEX migrations_unfinished ON migrations(phase)
                    WHERE phase NOT IN ('completed', 'failed', 'cancelled', 'rolled_back');
                CREATE INDEX events_by_migration ON events(migration_id, seq);
                CREATE INDEX events_by_plan ON events(plan_id, seq);
                CREATE INDEX events_by_time ON events(at);
                """)
    }

    /// v4: per migration, what its driver needs after a restart (token, destination address, policy
    /// in force, rollback under way) and the agents' latest progress numbers. One row per migration
    /// that has started; written with each transition (runtime) or progress report (progress).
    static func createMigrationRuntime(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE migration_runtime (
                    migration_id  TEXT    NOT NULL PRIMARY KEY REFERENCES migrations(id),
                    -- MigrationRuntime as FerryJSON.
                    runtime       TEXT    NOT NULL CHECK (json_valid(runtime)),
                    -- MigrationProgress as FerryJSON.
                    progress      TEXT    NOT NULL CHECK (json_valid(progress)),
                    updated_at    TEXT    NOT NULL
                ) STRICT;
                """)
    }

    /// v5: the events that give up on an agent (`given_up` attribute, on the transition that ends
    /// the migration) or record its report on its return (`agent_reconciled`): a restarted ferryd
    /// derives from them which agents it still awaits (`GivenUpAgent.awaited(in:)`). Partial, so
    /// the start-up read touches these few rows only, never the whole history.
    static func indexAgentWaits(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE INDEX events_agent_waits ON events(seq)
                    WHERE \(agentWaitsPredicate);
                """)
    }

    /// The partial index's predicate; a query must repeat it word for word for SQLite to use the index.
    static let agentWaitsPredicate =
        "kind = 'agent_reconciled' OR json_extract(attributes, '$.given_up') IS NOT NULL"

    /// `'a', 'b'` for an IN (...) check. The values are this file's own constants, never input.
    private static func sqlList(_ values: [String]) -> String {
        values.map { "'\($0)'" }.joined(separator: ", ")
    }
}
