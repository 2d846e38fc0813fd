/// Checks a parsed plan against the cluster as ferryd knows it and resolves it into concrete
/// migrations. Pure: the same inputs always give the same answer, nothing is stored.
///
/// Every problem is reported, not just the first: an operator fixing a 200-VM evacuation should
/// not have to resubmit once per typo.
public struct PlanValidator {
    public let file: String
    let hosts: [String: HypervisorHost]
    /// VM id → host that reports it.
    let vmHost: [String: String]
    /// VM id → its unfinished migration.
    let migrating: [String: Migration]

    // Running totals while the plan is resolved, so entries cannot double-book a host.
    var committedMemory: [String: UInt64] = [:]
    var claimedDevices: [String: Set<String>] = [:]
    var seenVMs: [String: Int] = [:]
    var problems: [PlanProblem] = []
    var planned: [PlannedMigration] = []

    public init(file: String, hosts: [HypervisorHost], activeMigrations: [Migration]) {
        self.file = file
        self.hosts = Dictionary(hosts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var vmHost: [String: String] = [:]
        for host in hosts { for vm in host.vms where vmHost[vm.id] == nil { vmHost[vm.id] = host.id } }
        self.vmHost = vmHost
        let unfinished = activeMigrations.filter { !$0.phase.isTerminal }
        self.migrating = Dictionary(unfinished.map { ($0.vmID, $0) }, uniquingKeysWith: { first, _ in first })
        // Migrations already on their way in hold their memory on the destination.
        for m in unfinished { committedMemory[m.destinationHostID, default: 0] += m.ramBytes }
    }

    /// The plan's migrations in plan order, or every problem found.
    public static func validate(
        _ document: PlanDocument, file: String, hosts: [HypervisorHost], activeMigrations: [Migration]
    ) -> Result<[PlannedMigration], PlanInvalid> {
        var validator = PlanValidator(file: file, hosts: hosts, activeMigrations: activeMigrations)
        return validator.run(document)
    }

    mutating func run(_ document: PlanDocument) -> Result<[PlannedMigration], PlanInvalid> {
        for (index, entry) in document.entries.enumerated() {
            let priority = entry.priority ?? document.policy.priority
            switch entry.target {
            case .migrate(let vmID, let source, let destination):
                migrate(vmID, source, destination, entry, index, priority)
            case .evacuate(let host, let candidates):
                evacuate(host, candidates, entry, index, priority)
            }
        }
        if problems.isEmpty && planned.isEmpty {
            problem(document.migrationsLine, "migrations", "the plan resolves to no migrations")
        }
        return problems.isEmpty ? .success(planned) : .failure(PlanInvalid(problems))
    }

    mutating func problem(_ line: Int, _ field: String, _ reason: String) {
        problems.append(PlanProblem(file: file, line: line, field: field, reason: reason))
    }

    private mutating func migrate(
        _ vmID: String, _ sourceID: String, _ destinationID: String, _ entry: PlanEntry, _ index: Int, _ priority: Int
    ) {
        let path = "migrations[\(index)]"
        let before = problems.count
        let source = knownHost(sourceID, entry, path, "source")
        let destination = knownHost(destinationID, entry, path, "destination")
        if sourceID == destinationID {
            problem(entry.line(of: "destination"), "\(path).destination", "same host as the source ('\(sourceID)')")
        }
        let vmProblem = vmUnavailable(vmID)
        if let vmProblem { problem(entry.line(of: "vm"), "\(path).vm", vmProblem) }
        guard let vmHostID = vmHost[vmID] else {
            if vmProblem == nil {
                problem(entry.line(of: "vm"), "\(path).vm", "unknown VM '\(vmID)': no host reports it")
            }
            return
        }
        seenVMs[vmID] = seenVMs[vmID] ?? entry.line(of: "vm")
        if source != nil && vmHostID != sourceID {
            problem(
                entry.line(of: "source"), "\(path).source", "VM '\(vmID)' is on host '\(vmHostID)', not '\(sourceID)'")
        }
        guard let source, let destination, sourceID != destinationID, vmHostID == sourceID,
            let vm = source.vms.first(where: { $0.id == vmID })
        else { return }
        let sourceLines = entry.line(of: "vm")
        let deviceIssues = deviceProblems(vm, on: source)
        for reason in deviceIssues { problem(sourceLines, "\(path).vm", reason) }
        // A VM that cannot migrate anywhere needs no list of what each destination lacks.
        guard deviceIssues.isEmpty else { return }
        for reason in fitProblems(vm, from: source, to: destination) {
            problem(entry.line(of: "destination"), "\(path).destination", reason)
        }
        guard problems.count == before else { return }
        book(vm, from: source, to: destination, entry, priority)
    }

    private mutating func evacuate(
        _ hostID: String, _ candidateIDs: [String], _ entry: PlanEntry, _ index: Int, _ priority: Int
    ) {
        let path = "migrations[\(index)]"
        let host = knownHost(hostID, entry, path, "evacuate")
        if candidateIDs.isEmpty {
            problem(entry.line(of: "candidates"), "\(path).candidates", "needs at least one candidate destination")
        }
        var candidates: [HypervisorHost] = []
        for id in candidateIDs {
            if id == hostID {
                problem(entry.line(of: "candidates"), "\(path).candidates", "'\(id)' is the host being evacuated")
            } else if let candidate = knownHost(id, entry, path, "candidates") {
                candidates.append(candidate)
            }
        }
        guard let host else { return }
        for vm in host.vms {
            if let reason = vmUnavailable(vm.id) {
                problem(entry.line(of: "evacuate"), "\(path).evacuate", reason)
                continue
            }
            seenVMs[vm.id] = entry.line(of: "evacuate")
            let deviceIssues = deviceProblems(vm, on: host)
            for reason in deviceIssues { problem(entry.line(of: "evacuate"), "\(path).evacuate", reason) }
            guard deviceIssues.isEmpty, !candidates.isEmpty else { continue }
            // The candidate with the most memory left after what this plan already sent there.
            var refusals: [String] = []
            var best: HypervisorHost?
            for candidate in candidates {
                let issues = fitProblems(vm, from: host, to: candidate)
                if issues.isEmpty {
                    if best.map({ freeMemory(candidate) > freeMemory($0) }) ?? true { best = candidate }
                } else {
                    refusals.append("\(candidate.id): \(issues.joined(separator: "; "))")
                }
            }
            if let best {
                book(vm, from: host, to: best, entry, priority)
            } else {
                problem(
                    entry.line(of: "candidates"), "\(path).candidates",
                    "no candidate can take VM '\(vm.id)' (\(refusals.joined(separator: " | ")))")
            }
        }
    }

    private mutating func knownHost(_ id: String, _ entry: PlanEntry, _ path: String, _ field: String)
        -> HypervisorHost?
    {
        guard let host = hosts[id] else {
            problem(entry.line(of: field), "\(path).\(field)", "unknown host '\(id)'")
            return nil
        }
        if host.status != .ready {
            problem(entry.line(of: field), "\(path).\(field)", "host '\(id)' is \(host.status.rawValue)")
        }
        return host
    }

    /// Already in this plan, or already migrating.
    private func vmUnavailable(_ vmID: String) -> String? {
        if let line = seenVMs[vmID] { return "VM '\(vmID)' appears twice in the plan (first at line \(line))" }
        if let m = migrating[vmID] {
            return "VM '\(vmID)' is already migrating (migration \(m.id), phase \(m.phase.rawValue))"
        }
        return nil
    }

    /// Problems of the VM's devices that no destination can fix.
    private func deviceProblems(_ vm: VM, on host: HypervisorHost) -> [String] {
        let devices = vm.deviceIDs.compactMap { id in host.devices.first { $0.id == id } }
        var reasons: [String] = []
        for id in vm.deviceIDs where !devices.contains(where: { $0.id == id }) {
            reasons.append("VM '\(vm.id)' uses device '\(id)', which host '\(host.id)' does not report")
        }
        for device in devices where !device.migrationCapabilities.contains(.stopCopy) {
            reasons.append("device '\(device.id)' of VM '\(vm.id)' does not support migration (no stop_copy)")
        }
        // Several devices must all reach the P2P-quiesced state before any stops (QEMU's rule).
        if devices.count > 1 {
            for device in devices where !device.migrationCapabilities.contains(.p2p) {
                reasons.append(
                    "VM '\(vm.id)' has \(devices.count) devices and device '\(device.id)' lacks P2P, which multi-device migration needs"
                )
            }
        }
        return reasons
    }

    private func freeMemory(_ host: HypervisorHost) -> UInt64 {
        let committed = committedMemory[host.id] ?? 0
        return host.freeMemoryBytes > committed ? host.freeMemoryBytes - committed : 0
    }

    /// Why `destination` cannot take `vm` (memory, devices), given what the plan already booked.
    private func fitProblems(_ vm: VM, from source: HypervisorHost, to destination: HypervisorHost) -> [String] {
        var reasons: [String] = []
        let free = freeMemory(destination)
        if vm.ramBytes > free {
            reasons.append(
                "host '\(destination.id)' lacks memory: VM '\(vm.id)' needs \(ByteCount.text(vm.ramBytes)), \(ByteCount.text(free)) free"
            )
        }
        var claimed = claimedDevices[destination.id] ?? []
        for id in vm.deviceIDs {
            guard let device = source.devices.first(where: { $0.id == id }) else { continue }
            let free = destination.devices.filter { $0.vmID.isEmpty && !claimed.contains($0.id) }
            if let peer = free.first(where: { DeviceCompatibility.mismatch(source: device, peer: $0) == nil }) {
                claimed.insert(peer.id)
                continue
            }
            let described = "\(DeviceCompatibility.pciID(device)) \(device.driver) '\(device.migrationVersion)'"
            if let near = free.first(where: { $0.vendorID == device.vendorID && $0.deviceID == device.deviceID }),
                let why = DeviceCompatibility.mismatch(source: device, peer: near)
            {
                reasons.append(
                    "no compatible peer on host '\(destination.id)' for device '\(device.id)' (\(described)): '\(near.id)' \(why)"
                )
            } else {
                reasons.append(
                    "no free device on host '\(destination.id)' matches device '\(device.id)' (\(described))")
            }
        }
        return reasons
    }

    private mutating func book(
        _ vm: VM, from source: HypervisorHost, to destination: HypervisorHost, _ entry: PlanEntry, _ priority: Int
    ) {
        committedMemory[destination.id, default: 0] += vm.ramBytes
        var claimed = claimedDevices[destination.id] ?? []
        for id in vm.deviceIDs {
            guard let device = source.devices.first(where: { $0.id == id }) else { continue }
            if let peer = destination.devices.first(where: {
                $0.vmID.isEmpty && !claimed.contains($0.id)
                    && DeviceCompatibility.mismatch(source: device, peer: $0) == nil
            }) {
                claimed.insert(peer.id)
            }
        }
        claimedDevices[destination.id] = claimed
        planned.append(
            PlannedMigration(
                vmID: vm.id, sourceHostID: source.id, destinationHostID: destination.id, wave: entry.wave,
                priority: priority, ramBytes: vm.ramBytes, line: entry.line))
    }
}
