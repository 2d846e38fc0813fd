/// Which implementation drives a device on its host.
public enum DeviceBackend: String, Codable, Sendable, CaseIterable {
    /// The real Linux VFIO migration uAPI v2.
    case vfio
    /// Ferry's simulated device, as strict as the kernel.
    case sim
}

/// The kernel's `enum vfio_device_mig_state`, by name.
public enum DeviceState: String, Codable, Sendable, CaseIterable {
    case error, stop, running
    case stopCopy = "stop_copy"
    case resuming
    case runningP2P = "running_p2p"
    case preCopy = "pre_copy"
    case preCopyP2P = "pre_copy_p2p"
    /// The agent did not say (older agent, or the device could not be read).
    case unknown
}

/// VFIO migration capability flags (`VFIO_MIGRATION_*`), same bit values as the kernel.
public struct MigrationCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let stopCopy = MigrationCapabilities(rawValue: 1 << 0)
    public static let p2p = MigrationCapabilities(rawValue: 1 << 1)
    public static let preCopy = MigrationCapabilities(rawValue: 1 << 2)

    /// Names in bit order, as shown to operators and in JSON.
    public static let named: [(String, MigrationCapabilities)] = [
        ("stop_copy", .stopCopy), ("p2p", .p2p), ("pre_copy", .preCopy),
    ]

    public var names: [String] { Self.named.filter { contains($0.1) }.map(\.0) }
}

extension MigrationCapabilities: Codable {
    /// Encoded as a list of names (`["stop_copy", "p2p"]`) so JSON readers need no bit table.
    public init(from decoder: any Decoder) throws {
        let names = try decoder.singleValueContainer().decode([String].self)
        var caps: MigrationCapabilities = []
        for name in names {
            guard let cap = Self.named.first(where: { $0.0 == name })?.1 else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown migration capability '\(name)'"))
            }
            caps.insert(cap)
        }
        self = caps
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(names)
    }
}

/// A passthrough device and what is needed to match it with a compatible peer on another host.
public struct Device: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var backend: DeviceBackend
    public var vendorID: UInt32
    public var deviceID: UInt32
    public var driver: String
    public var migrationCapabilities: MigrationCapabilities
    public var dmaLogging: Bool
    public var savingLayoutHandshake: Bool
    public var migrationVersion: String
    /// VM the device is attached to; empty when free.
    public var vmID: String
    public var state: DeviceState
    /// The device's estimate of its stop-copy data (`MIG_DATA_SIZE`).
    public var stopCopyBytes: UInt64

    /// `...Id` spellings so FerryJSON's snake_case strategy round-trips: the encoder turns `vendorID`
    /// into `vendor_id`, but the decoder turns `vendor_id` back into `vendorId`, which would not match.
    enum CodingKeys: String, CodingKey {
        case id, backend
        case vendorID = "vendorId"
        case deviceID = "deviceId"
        case driver, migrationCapabilities, dmaLogging, savingLayoutHandshake, migrationVersion
        case vmID = "vmId"
        case state, stopCopyBytes
    }

    public init(
        id: String, backend: DeviceBackend, vendorID: UInt32, deviceID: UInt32, driver: String,
        migrationCapabilities: MigrationCapabilities, dmaLogging: Bool, savingLayoutHandshake: Bool,
        migrationVersion: String, vmID: String, state: DeviceState, stopCopyBytes: UInt64
    ) {
        self.id = id
        self.backend = backend
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.driver = driver
        self.migrationCapabilities = migrationCapabilities
        self.dmaLogging = dmaLogging
        self.savingLayoutHandshake = savingLayoutHandshake
        self.migrationVersion = migrationVersion
        self.vmID = vmID
        self.state = state
        self.stopCopyBytes = stopCopyBytes
    }
}
