/*
 * Ferry framing: how every message crosses a TCP connection (control link and data channels).
 * The C side (agents/src/frame.h) implements exactly the same rules.
 *
 *   offset  size  field        value
 *   0       4     magic        0x59524546, little-endian: the bytes 'F' 'E' 'R' 'Y'
 *   4       1     version      FERRY_FRAME_VERSION (1); any other value is rejected
 *   5       1     type         a ferry.v1.FrameType value; unknown or UNSPECIFIED is rejected
 *   6       2     flags        0; reserved, non-zero is rejected
 *   8       4     header_len   length of the protobuf message that follows, <= FERRY_FRAME_MAX_HEADER
 *   12      4     payload_len  length of the raw payload after the message, <= FERRY_FRAME_MAX_PAYLOAD;
 *                              must be 0 unless type is PAGE_BATCH or DEVICE_CHUNK
 *   16      header_len         protobuf-encoded message of the type's schema (ferry.proto)
 *   16+h    payload_len        raw bytes (guest pages, device state), never inside a protobuf field
 *
 * All integers are little-endian. A frame that breaks any rule closes its connection after an
 * Error frame (best effort) and a logged reason; the peer's other connections are unaffected.
 * Versioning: the frame version changes only if this layout changes; message-level evolution is
 * negotiated by Hello/Welcome protocol_version (FERRY_PROTOCOL_VERSION).
 *
 * Control link flow (agent dials ferryd):
 *
 *   agent                                   ferryd
 *     | -- HELLO {versions, host_id, boot_id} -> |   first frame, within 5 s
 *     | <- WELCOME {version, heartbeat cfg} ---- |   or ERROR (INCOMPATIBLE_VERSION, DUPLICATE_HOST, ...) + close
 *     | -- INVENTORY ------------------------->  |   at once, and again whenever it changes
 *     | -- HEARTBEAT {seq} ------------------->  |   every heartbeat_interval_ms
 *     | <- HEARTBEAT {seq} (echo) ------------- |
 */

/// The fixed numbers of the framing. Same values as agents/src/frame.h.
public enum FrameLimits {
    /// 'F' 'E' 'R' 'Y' read as a little-endian UInt32.
    public static let magic: UInt32 = 0x5952_4546
    public static let version: UInt8 = 1
    /// Size of the fixed header that precedes every message.
    public static let fixedHeaderSize = 16
    /// 1 MiB: an Inventory of thousands of VMs fits.
    public static let maxHeaderLength: UInt32 = 1 << 20
    /// 16 MiB: 4096 pages of 4 KiB per batch.
    public static let maxPayloadLength: UInt32 = 16 << 20
}

/// One frame as it travels: the type, the protobuf message bytes and the raw payload.
/// `Frame` knows nothing of the message schema; `WireMessage` gives the bytes their meaning.
public struct Frame: Sendable, Equatable {
    public var type: Ferry_V1_FrameType
    public var message: [UInt8]
    public var payload: [UInt8]

    public init(type: Ferry_V1_FrameType, message: [UInt8], payload: [UInt8] = []) {
        self.type = type
        self.message = message
        self.payload = payload
    }

    /// The fixed header that describes this frame.
    public var header: FrameHeader {
        FrameHeader(
            type: type, headerLength: UInt32(clamping: message.count), payloadLength: UInt32(clamping: payload.count))
    }

    /// The complete frame on the wire. Refuses to produce a frame the parser would reject.
    public func encoded() throws(WireError) -> [UInt8] {
        guard message.count <= Int(FrameLimits.maxHeaderLength) else {
            throw .headerTooLong(UInt32(clamping: message.count), limit: FrameLimits.maxHeaderLength)
        }
        guard payload.count <= Int(FrameLimits.maxPayloadLength) else {
            throw .payloadTooLong(UInt32(clamping: payload.count), limit: FrameLimits.maxPayloadLength)
        }
        var bytes = try header.encoded()
        bytes.reserveCapacity(FrameLimits.fixedHeaderSize + message.count + payload.count)
        bytes.append(contentsOf: message)
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// The decoded 16-byte fixed header.
public struct FrameHeader: Sendable, Equatable {
    public var type: Ferry_V1_FrameType
    /// Length of the protobuf message after the fixed header.
    public var headerLength: UInt32
    /// Length of the raw payload after the message.
    public var payloadLength: UInt32

    public init(type: Ferry_V1_FrameType, headerLength: UInt32, payloadLength: UInt32) {
        self.type = type
        self.headerLength = headerLength
        self.payloadLength = payloadLength
    }

    /// Bytes of the whole frame this header announces.
    public var frameLength: Int { FrameLimits.fixedHeaderSize + Int(headerLength) + Int(payloadLength) }

    /// Validates and decodes the first 16 bytes of `bytes` (which must hold at least 16).
    /// Checks run in header order, so a frame breaking several rules reports the first one.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(WireError) -> FrameHeader {
        guard bytes.count >= FrameLimits.fixedHeaderSize else {
            throw .truncated(have: bytes.count, need: FrameLimits.fixedHeaderSize)
        }
        let base = bytes.startIndex
        func le32(_ at: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[base + at + $1]) << (8 * $1) }
        }
        let magic = le32(0)
        guard magic == FrameLimits.magic else { throw .badMagic(magic) }
        let version = bytes[base + 4]
        guard version == FrameLimits.version else { throw .badVersion(version) }
        let rawType = bytes[base + 5]
        guard let type = Ferry_V1_FrameType.known(rawType) else { throw .unknownType(rawType) }
        let flags = UInt16(bytes[base + 6]) | UInt16(bytes[base + 7]) << 8
        guard flags == 0 else { throw .reservedFlags(flags) }
        let headerLength = le32(8)
        guard headerLength <= FrameLimits.maxHeaderLength else {
            throw .headerTooLong(headerLength, limit: FrameLimits.maxHeaderLength)
        }
        let payloadLength = le32(12)
        guard payloadLength <= FrameLimits.maxPayloadLength else {
            throw .payloadTooLong(payloadLength, limit: FrameLimits.maxPayloadLength)
        }
        guard payloadLength == 0 || type.carriesPayload else {
            throw .payloadNotAllowed(type, length: payloadLength)
        }
        return FrameHeader(type: type, headerLength: headerLength, payloadLength: payloadLength)
    }

    /// The 16 bytes on the wire. Refuses a header the parser would reject.
    public func encoded() throws(WireError) -> [UInt8] {
        guard let raw = type.wireValue else { throw .unknownType(UInt8(truncatingIfNeeded: type.rawValue)) }
        guard headerLength <= FrameLimits.maxHeaderLength else {
            throw .headerTooLong(headerLength, limit: FrameLimits.maxHeaderLength)
        }
        guard payloadLength <= FrameLimits.maxPayloadLength else {
            throw .payloadTooLong(payloadLength, limit: FrameLimits.maxPayloadLength)
        }
        guard payloadLength == 0 || type.carriesPayload else {
            throw .payloadNotAllowed(type, length: payloadLength)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(FrameLimits.fixedHeaderSize)
        func le32(_ value: UInt32) {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
        }
        le32(FrameLimits.magic)
        bytes.append(FrameLimits.version)
        bytes.append(raw)
        bytes.append(contentsOf: [0, 0])  // flags
        le32(headerLength)
        le32(payloadLength)
        return bytes
    }
}
