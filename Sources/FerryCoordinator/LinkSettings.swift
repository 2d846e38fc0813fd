import FerryWire

/// The control link's timing and identity, shared by every agent session.
public struct LinkSettings: Sendable, Equatable {
    /// Sent to agents in Welcome.coordinator_id.
    public var coordinatorID: String
    public var heartbeatIntervalMs: UInt32
    public var heartbeatMissLimit: UInt32
    /// How long a new connection may take to send its Hello.
    public var helloTimeout: Duration
    public var protocolVersions: ProtocolVersionRange

    public init(
        coordinatorID: String, heartbeatIntervalMs: UInt32 = 1000, heartbeatMissLimit: UInt32 = 3,
        helloTimeout: Duration = .seconds(5), protocolVersions: ProtocolVersionRange = .thisBuild
    ) {
        self.coordinatorID = coordinatorID
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatMissLimit = heartbeatMissLimit
        self.helloTimeout = helloTimeout
        self.protocolVersions = protocolVersions
    }

    public var heartbeatInterval: Duration { .milliseconds(Int64(heartbeatIntervalMs)) }

    /// Silence after which an agent is presumed gone: miss_limit whole intervals.
    public var silenceLimit: Duration { heartbeatInterval * Int(heartbeatMissLimit) }
}
