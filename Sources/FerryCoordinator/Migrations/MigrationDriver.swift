import FerryModel
import FerryStore
import FerryWire
import Foundation
import Logging

/// What every driver shares: the store, the agents, the clocks.
public struct DriverContext: Sendable {
    public let store: any PlanStore & MigrationRuntimeStore
    public let link: any AgentCommandLink
    public let clock: any CoordinatorClock
    public let logger: Logger
    /// How long an agent of an in-flight migration may stay unreachable (`HostLossPolicy`).
    public let hostLossWindow: Duration

    public init(
        store: any PlanStore & MigrationRuntimeStore, link: any AgentCommandLink, clock: any CoordinatorClock,
        logger: Logger, hostLossWindow: Duration = .seconds(HostLossPolicy.defaultWindowSeconds)
    ) {
        self.store = store
        self.link = link
        self.clock = clock
        self.logger = logger
        self.hostLossWindow = hostLossWindow
    }
}

/// Drives one migration: runs the `PhaseMachine` against the two agents. Each accepted event is
/// committed to the store (phase, command seq, runtime, an event) *before* the commands it
/// produced are sent; commands without a result yet stay outstanding and are sent again (same seq:
/// the agent answers a repeat from its record) when their agent reconnects. Agent reports
/// (command results, Progress, Event) become phase-machine events; pre-copy rounds feed the
/// `ConvergencePolicy`.
public actor MigrationDriver {
    public private(set) var migration: Migration
    private var state: MigrationState
    private let token: String
    private let context: DriverContext
    private var logger: Logger
    /// Commands sent (or waiting for their agent) without a result yet, by seq.
    private var outstanding: [UInt64: AgentCommand] = [:]
    /// Commands to put on the wire, in seq order; one pump sends them so order holds across events.
    private var sendQueue: [AgentCommand] = []
    private var pumping = false
    private var progress: MigrationProgress
    private var samples: [ProgressSample] = []
    private var precopyStartedAt: Duration?
    private var lastEscalation: Double?
    /// Since when (monotonic) each side's agent has been unreachable, while it is.
    private var unreachableSince: [MigrationRole: Duration] = [:]
    /// Agents given up on whose report is still awaited (`GivenUpAgent`): what they report on their
    /// return is recorded.
    private var givenUp: [MigrationRole: GivenUpAgent] = [:]

    /// A driver for a migration read from the store; `runtime` nil for one that never started.
    /// `givenUp`: the agents of an ended migration still awaited, as derived from the history.
    public init(
        migration: Migration, policy: MigrationPolicy, runtime: MigrationRuntime?, progress: MigrationProgress?,
        givenUp: [MigrationRole: GivenUpAgent] = [:], context: DriverContext
    ) {
        self.migration = migration
        let runtime = runtime ?? MigrationRuntime(token: WireCommand.newToken(), policy: policy)
        self.token = runtime.token
        self.state = runtime.state(of: migration)
        self.progress = progress ?? MigrationProgress()
        self.context = context
        if migration.phase.isTerminal {
            self.givenUp = givenUp
            // Their unanswered Abort is outstanding again: sent on their return, as before the restart.
            for abort in givenUp.values.compactMap(\.unansweredAbort) { outstanding[abort.seq] = abort }
        }
        var logger = context.logger
        logger[metadataKey: "migration"] = "\(migration.id)"
        self.logger = logger
    }

    public var phase: MigrationPhase { state.phase }
    public var isFinished: Bool { state.phase.isTerminal }
    /// Ended, and no agent given up on is still to report back.
    public var canBeDropped: Bool { state.phase.isTerminal && givenUp.isEmpty }
    public var currentProgress: MigrationProgress { progress }

    private func host(_ role: MigrationRole) -> String {
        role == .source ? migration.sourceHostID : migration.destinationHostID
    }

    // MARK: - Events

    /// Feeds one event to the phase machine; on acceptance commits, then sends its commands.
    @discardableResult
    public func handle(_ event: MigrationEvent, attributes: [String: String] = [:]) async -> Result<
        Void, TransitionRejected
    > {
        let transition: PhaseTransition
        switch PhaseMachine.apply(event, to: state) {
        case .failure(let rejected):
            logger.debug(
                "event refused", metadata: ["event": "\(event.kind.rawValue)", "reason": "\(rejected.reason)"])
            return .failure(rejected)
        case .success(let accepted): transition = accepted
        }
        let from = state.phase
        let to = transition.state.phase
        var details = attributes
        details["event"] = event.kind.rawValue
        details["from"] = from.rawValue
        details["to"] = to.rawValue
        if !transition.commands.isEmpty {
            details["commands"] = transition.commands.map { "\($0.role.rawValue):\($0.body.name)#\($0.seq)" }.joined(
                separator: ",")
        }
        let why = transition.state.reason.isEmpty ? "" : ": \(transition.state.reason)"
        let message =
            from == to
            ? "\(event.kind.rawValue) in \(from.rawValue)\(Self.describe(event))"
            : "\(from.rawValue) → \(to.rawValue) (\(event.kind.rawValue))\(why)"
        do {
            try commit(
                transition.state, from: from, kind: from == to ? event.kind.rawValue : "phase_changed",
                message: message, attributes: details)
        } catch {
            logger.error("cannot record transition; nothing sent", metadata: ["error": "\(error)"])
            return .failure(TransitionRejected(phase: from, event: event.kind, reason: "store: \(error)"))
        }
        if to == .precopy && from != .precopy { precopyStartedAt = context.clock.monotonicNow() }
        logger.info("migration event", metadata: ["event": "\(event.kind.rawValue)", "from": "\(from)", "to": "\(to)"])
        enqueue(transition.commands)
        await pump()
        return .success(())
    }

    private static func describe(_ event: MigrationEvent) -> String {
        switch event {
        case .policyAdjusted(_, let throttle): ": throttle \(throttle) %"
        case .cancelRequested(let reason), .abortRequested(let reason), .requeued(let reason): ": \(reason)"
        default: ""
        }
    }

    /// Writes the state (and an event) to the store, then adopts it.
    private func commit(
        _ next: MigrationState, from: MigrationPhase, kind: String, message: String, attributes: [String: String]
    ) throws(StoreError) {
        let now = context.clock.wallNow()
        let event = Event(
            at: now, planID: migration.planID, migrationID: migration.id, kind: kind, message: message,
            attributes: attributes)
        try context.store.commitTransition(
            migrationID: migration.id, from: from, to: next.phase, at: now, commandSeq: next.lastSeq,
            reason: next.reason, runtime: MigrationRuntime(token: token, state: next), event: event)
        state = next
        if from != next.phase { migration.phaseTimes.append(PhaseTime(phase: next.phase, at: now)) }
        migration.phase = next.phase
        migration.commandSeq = next.lastSeq
        migration.reason = next.reason
    }

    /// Commands outside the phase machine (queries, re-sent aborts): a fresh seq each, committed first.
    private func issue(_ bodies: [(MigrationRole, AgentCommandBody)], kind: String, message: String) async {
        var next = state
        var commands: [AgentCommand] = []
        for (role, body) in bodies {
            next.lastSeq += 1
            commands.append(AgentCommand(role: role, seq: next.lastSeq, body: body))
        }
        do {
            try commit(
                next, from: state.phase, kind: kind, message: message,
                attributes: [
                    "commands": commands.map { "\($0.role.rawValue):\($0.body.name)#\($0.seq)" }.joined(
                        separator: ",")
                ])
        } catch {
            logger.error("cannot record command; nothing sent", metadata: ["error": "\(error)"])
            return
        }
        enqueue(commands)
        await pump()
    }

    private func enqueue(_ commands: [AgentCommand]) {
        for command in commands { outstanding[command.seq] = command }
        sendQueue.append(contentsOf: commands)
    }

    private func pump() async {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while !sendQueue.isEmpty {
            let command = sendQueue.removeFirst()
            let sourceVM =
                command.body == .prepareDestination
                ? await context.link.reportedVM(migration.vmID, on: migration.sourceHostID) : nil
            let wire = WireCommand.make(
                command,
                .init(
                    migration: migration, token: WireCommand.tokenBytes(token), channels: state.policy.channels,
                    sourceVM: sourceVM))
            let sent = await context.link.send(wire, to: host(command.role))
            logger.debug(
                sent ? "command sent" : "command waits for its agent to reconnect",
                metadata: ["seq": "\(command.seq)", "body": "\(command.body.name)", "role": "\(command.role)"])
        }
    }

    // MARK: - Lifecycle entry points (called by the supervisor)

    /// Scheduled → preparing, once the source's agent reports the VM (PrepareDestination needs its
    /// vCPUs, launch args and devices). Returns false when it has to wait.
    public func startIfReady() async -> Bool {
        guard state.phase == .scheduled else { return false }
        guard await context.link.reportedVM(migration.vmID, on: migration.sourceHostID) != nil,
            await context.link.isConnected(migration.destinationHostID)
        else { return false }
        return (try? await handle(.started).get()) != nil
    }

    public func cancel(reason: String) async -> Result<Void, TransitionRejected> {
        await handle(.cancelRequested(reason: reason))
    }

    /// After a ferryd restart: pick the migration up where the store left it.
    public func recover() async {
        if let rollback = state.rollback {
            await issue(
                [(.source, .abort(reason: rollback.reason)), (.destination, .abort(reason: rollback.reason))],
                kind: "rollback_resumed", message: "ferryd restarted during a rollback: Abort sent again")
            return
        }
        switch state.phase {
        case .preparing:
            // The last command went out (or not) just before the restart: send it again, same seq.
            let body: AgentCommandBody =
                state.destinationAddress.map { .prepareSource(destinationAddress: $0) } ?? .prepareDestination
            let role: MigrationRole = state.destinationAddress == nil ? .destination : .source
            enqueue([AgentCommand(role: role, seq: state.lastSeq, body: body)])
            await pump()
        case .precopy, .cutover, .resuming:
            if state.phase == .precopy { precopyStartedAt = context.clock.monotonicNow() }
            await issue(
                [(.source, .queryMigration), (.destination, .queryMigration)], kind: "agents_queried",
                message: "ferryd restarted: asking both agents where the migration stands")
        case _ where state.phase.isTerminal:
            // An agent given up on that is connected now came back while ferryd was away: its return.
            for role in MigrationRole.allCases where givenUp[role] != nil {
                if await context.link.isConnected(host(role)) { await returned(role) }
            }
            await pump()
        default:
            break
        }
    }

    /// The host's agent reconnected: send what it has not answered; otherwise ask where it stands.
    public func hostConnected(_ hostID: String) async {
        let roles = MigrationRole.allCases.filter { host($0) == hostID }
        for role in roles { unreachableSince[role] = nil }
        guard !state.phase.isTerminal else {
            for role in roles where givenUp[role] != nil { await returned(role) }
            await pump()
            return
        }
        for role in roles {
            let waiting = outstanding.values.filter { $0.role == role }.sorted { $0.seq < $1.seq }
            if !waiting.isEmpty {
                sendQueue.append(contentsOf: waiting.filter { c in !sendQueue.contains { $0.seq == c.seq } })
            } else if [.precopy, .cutover, .resuming].contains(state.phase) {
                await issue([(role, .queryMigration)], kind: "agent_queried", message: "\(role.rawValue) reconnected")
            }
        }
        await pump()
    }

    /// An agent given up on is back: deliver the Abort it missed (same seq), then ask what it did
    /// (the query already out, if one is: a second return, or a restart that found it connected).
    private func returned(_ role: MigrationRole) async {
        let abortSeq = givenUp[role]?.unansweredAbort?.seq
        var queried = false
        let waiting = outstanding.values.filter { command in
            guard command.role == role else { return false }
            if case .queryMigration = command.body {
                queried = true
                return true
            }
            return command.seq == abortSeq
        }
        sendQueue.append(
            contentsOf: waiting.sorted { $0.seq < $1.seq }.filter { c in !sendQueue.contains { $0.seq == c.seq } })
        guard !queried else { return }
        await issue(
            [(role, .queryMigration)], kind: "agent_queried",
            message: "\(role.rawValue) returned after the migration ended")
    }

    /// Periodic: watches for agents that stay away, lets the completion deadline fire even when
    /// no round is reported.
    public func tick() async {
        guard !state.phase.isTerminal else { return }
        await checkHosts()
        guard state.phase == .precopy, state.rollback == nil else { return }
        await applyConvergence()
    }

    /// Applies `HostLossPolicy` to how long each agent has been unreachable.
    private func checkHosts() async {
        guard [.scheduled, .preparing, .precopy, .cutover, .resuming].contains(state.phase) else { return }
        let now = context.clock.monotonicNow()
        var away: [MigrationRole: Double] = [:]
        for role in MigrationRole.allCases {
            if await context.link.isConnected(host(role)) {
                unreachableSince[role] = nil
            } else {
                let since = unreachableSince[role] ?? now
                unreachableSince[role] = since
                away[role] = Self.seconds(now - since)
            }
        }
        let decision = HostLossPolicy.decide(
            HostLossInputs(
                phase: state.phase, rollingBack: state.rollback != nil, sourceHost: migration.sourceHostID,
                destinationHost: migration.destinationHostID, sourceUnreachableSeconds: away[.source],
                destinationUnreachableSeconds: away[.destination],
                destinationOwesAnswer: outstanding.values.contains { $0.role == .destination },
                windowSeconds: Self.seconds(context.hostLossWindow)))
        switch decision.action {
        case .wait:
            return
        case .requeue(let reason):
            logger.warning("host unreachable before the start: back to pending", metadata: ["reason": "\(reason)"])
            var attributes = decision.inputs
            attributes["reason"] = reason
            unreachableSince = [:]
            await handle(.requeued(reason: reason), attributes: attributes)
        case .abort(let reason):
            logger.warning("agent unreachable past the window: rolling back", metadata: ["reason": "\(reason)"])
            await handle(.abortRequested(reason: reason), attributes: decision.inputs)
        case .giveUp(let role, let reason):
            logger.warning("agent unreachable past the window: giving up on it", metadata: ["reason": "\(reason)"])
            let aborts = outstanding.values.filter { command in
                guard case .abort = command.body else { return false }
                return command.role == role
            }
            let abort = aborts.max { $0.seq < $1.seq }
            let agent = GivenUpAgent(role: role, unansweredAbort: abort)
            // Recorded with the transition that ends the migration: a restarted ferryd awaits it too.
            let attributes = decision.inputs.merging(agent.attributes) { _, recorded in recorded }
            givenUp[role] = agent
            if case .failure = await handle(.agentFailed(role: role, reason: reason), attributes: attributes) {
                givenUp[role] = nil
            }
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: - Agent reports

    public func deliver(_ report: MigrationReport, from hostID: String) async {
        guard !state.phase.isTerminal else {
            await reconcile(report, from: hostID)
            return
        }
        switch report {
        case .commandResult(let result): await handleResult(result, from: hostID)
        case .progress(let p): await handleProgress(p, from: hostID)
        case .event(let e):
            var attributes = Dictionary(e.attributes.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            attributes["host"] = hostID
            let at = e.atUnixNs > 0 ? Date(timeIntervalSince1970: Double(e.atUnixNs) / 1e9) : context.clock.wallNow()
            do {
                try context.store.appendEvent(
                    Event(
                        at: at, planID: migration.planID, migrationID: migration.id,
                        kind: e.kind.isEmpty ? "agent_event" : e.kind, message: e.message, attributes: attributes))
            } catch {
                logger.warning("cannot record agent event", metadata: ["error": "\(error)"])
            }
        }
    }

    /// After the migration ended without an agent: record what that agent says on its return
    /// (the ending stays; the history shows what really happened on that host).
    private func reconcile(_ report: MigrationReport, from hostID: String) async {
        let role = role(of: hostID)
        guard givenUp[role] != nil else { return }
        var attributes = ["host": hostID, "role": role.rawValue, "ended_as": state.phase.rawValue]
        let said: String
        switch report {
        case .progress(let p) where [.rolledBack, .completed, .failed].contains(p.phase):
            // Only an outcome: an agent still mid-round reports again when it has rolled back.
            let phase = WireCommand.phaseName(p.phase)
            attributes["agent_phase"] = phase
            if p.hasError && !p.error.message.isEmpty { attributes["error"] = p.error.message }
            switch (role, p.phase) {
            case (.source, .rolledBack): said = "rolled back: the VM runs on \(hostID)"
            case (.source, .completed): said = "completed: it released the VM after the handover"
            default: said = phase + (attributes["error"].map { ": \($0)" } ?? "")
            }
        case .commandResult(let r)
        where r.hasError && r.error.code == .unknownMigration && outstanding[r.seq]?.body == .queryMigration:
            outstanding[r.seq] = nil
            attributes["agent_phase"] = "unknown"
            said = "no record of the migration (the agent restarted): its VM is as the host's inventory shows"
        default:
            if case .commandResult(let r) = report { outstanding[r.seq] = nil }
            return
        }
        let event = Event(
            at: context.clock.wallNow(), planID: migration.planID, migrationID: migration.id,
            kind: GivenUpAgent.reconciledKind,
            message:
                "\(role.rawValue) \(hostID) returned after the migration ended \(state.phase.rawValue) and reports \(said)",
            attributes: attributes)
        do {
            try context.store.appendEvent(event)
        } catch {
            // Still awaited (here and in the history): its next report is recorded instead.
            logger.warning("cannot record agent report", metadata: ["error": "\(error)"])
            return
        }
        givenUp[role] = nil
        logger.info("agent reconciled", metadata: ["host": "\(hostID)", "report": "\(said)"])
    }

    private func role(of hostID: String) -> MigrationRole {
        hostID == migration.sourceHostID ? .source : .destination
    }

    private func handleResult(_ result: Ferry_V1_CommandResult, from hostID: String) async {
        guard let command = outstanding.removeValue(forKey: result.seq) else { return }  // a repeat's answer
        let role = command.role
        if result.hasError && result.error.code != .unspecified {
            let code = result.error.code
            let message = result.error.message
            logger.warning(
                "command refused",
                metadata: [
                    "seq": "\(result.seq)", "body": "\(command.body.name)", "code": "\(code)", "error": "\(message)",
                ])
            switch (command.body, code) {
            case (_, .staleCommand):
                return
            case (.abort, .unknownMigration) where role == .source,
                (.queryMigration, .unknownMigration) where role == .source && state.rollback != nil:
                // Nothing of it on the source: the VM never left and runs there.
                await handle(.rolledBack, attributes: ["source_says": message])
            case (.abort, .unexpectedMessage) where role == .destination:
                // "already completed: too late to abort": the destination may run the VM; its report decides.
                await issue(
                    [(.destination, .queryMigration)], kind: "agent_queried", message: "abort refused: \(message)")
            case (.abort, _) where role == .destination:
                return  // the source's outcome decides; the destination releases on its own
            case (.abort, .unexpectedMessage):
                await issue([(role, .queryMigration)], kind: "agent_queried", message: "abort refused: \(message)")
            default:
                await handle(.agentFailed(role: role, reason: "\(command.body.name): \(message)"))
            }
            return
        }
        switch command.body {
        case .prepareDestination:
            await handle(.destinationPrepared(dataAddress: result.dataAddress))
        case .prepareSource:
            await handle(.sourcePrepared)
        case .abort where role == .source:
            // If the source had finished its rollback already, only a query tells.
            await issue([(.source, .queryMigration)], kind: "agent_queried", message: "abort accepted by the source")
        default:
            break
        }
    }

    private func handleProgress(_ p: Ferry_V1_Progress, from hostID: String) async {
        let role = role(of: hostID)
        let name = WireCommand.phaseName(p.phase)
        if role == .source {
            progress = SourceProgressUpdate.apply(p, to: progress)
            progress.sourcePhase = name
        } else {
            progress.destinationPhase = name
        }
        if p.actualDowntimeUs > 0 { progress.actualDowntimeUs = p.actualDowntimeUs }
        if !p.devices.isEmpty {
            progress.devices = p.devices.map {
                MigrationProgress.DeviceProgress(
                    id: $0.deviceID, state: DeviceState(wire: $0.state).rawValue,
                    pendingBytes: $0.precopyDirtyBytes + $0.stopCopyBytes, bytesSent: $0.bytesSent)
            }
        }
        progress.updatedAt = context.clock.wallNow()
        do {
            try context.store.recordProgress(migrationID: migration.id, progress: progress, at: context.clock.wallNow())
        } catch {
            logger.warning("cannot record progress", metadata: ["error": "\(error)"])
        }

        let error = p.hasError ? p.error.message : ""
        switch (role, p.phase) {
        case (_, .failed):
            await handle(.agentFailed(role: role, reason: error.isEmpty ? "the agent reported failure" : error))
        case (.source, .rolledBack):
            await handle(.rolledBack, attributes: error.isEmpty ? [:] : ["error": error])
        case (.destination, .rolledBack):
            // The source's report decides; if no rollback is under way, start one so both sides end.
            if state.rollback == nil && !state.phase.isPastPointOfNoReturn {
                await handle(
                    .agentFailed(
                        role: .destination, reason: error.isEmpty ? "the destination discarded the migration" : error))
            }
        case (.source, .precopy):
            guard state.phase == .precopy, state.rollback == nil else { return }
            // A mid-round report is shown (above) but is not a round: the policy does not see it.
            guard let sample = SourceProgressUpdate.sample(p, seconds: secondsInPrecopy()) else { return }
            samples.append(sample)
            await applyConvergence()
        case (.source, .cutover), (.source, .resuming):
            if state.phase == .precopy { await handle(.cutoverStarted) }
        case (.destination, .completed):
            if state.phase == .precopy { await handle(.cutoverStarted) }
            if state.phase == .cutover { await handle(.destinationConfirmed) }
        case (.source, .completed):
            if state.phase == .precopy { await handle(.cutoverStarted) }
            if state.phase == .cutover { await handle(.destinationConfirmed) }
            if state.phase == .resuming { await handle(.completed) }
        default:
            break
        }
    }

    private func secondsInPrecopy() -> Double {
        let start = precopyStartedAt ?? context.clock.monotonicNow()
        if precopyStartedAt == nil { precopyStartedAt = start }
        let elapsed = context.clock.monotonicNow() - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Runs the convergence policy on the rounds so far; throttles or aborts as it says.
    private func applyConvergence() async {
        let now = secondsInPrecopy()
        let decision = ConvergencePolicy.decide(
            policy: state.policy, ramBytes: migration.ramBytes, samples: samples, now: now,
            throttlePercent: state.throttlePercent, lastEscalation: lastEscalation)
        switch decision.action {
        case .keepGoing:
            return
        case .throttle(let percent):
            lastEscalation = now
            await handle(.policyAdjusted(state.policy, throttlePercent: percent), attributes: decision.inputs)
        case .abort(let reason):
            lastEscalation = now
            await handle(.abortRequested(reason: reason), attributes: decision.inputs)
        }
    }
}
