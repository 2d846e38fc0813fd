/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of each page of a page batch
/// (`page_crc32c`) and of each device chunk (`payload_crc32c`). Table driven, one byte per step:
/// the payloads are at most 16 MiB and the network, not this loop, is the bottleneck.
public struct CRC32C: Sendable, Equatable {
    /// The running value, before the final inversion.
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var crc = state
        for byte in bytes {
            crc = Self.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        state = crc
    }

    /// The checksum of everything given to `update` so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// The checksum of `bytes` in one call.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }
}
