import Testing

@testable import FerryWire

/// Builds a raw 16-byte header with any field, valid or not.
func rawHeader(
    magic: UInt32 = FrameLimits.magic, version: UInt8 = 1, type: UInt8 = 4, flags: UInt16 = 0,
    headerLength: UInt32 = 0, payloadLength: UInt32 = 0
) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    return le32(magic) + [version, type, UInt8(flags & 0xFF), UInt8(flags >> 8)] + le32(headerLength)
        + le32(payloadLength)
}

@Suite struct FrameHeaderTests {
    @Test("a valid header parses into its fields")
    func validHeader() throws {
        let header = try FrameHeader.parse(rawHeader(type: 34, headerLength: 12, payloadLength: 4096)[...])
        #expect(header == FrameHeader(type: .pageBatch, headerLength: 12, payloadLength: 4096))
        #expect(header.frameLength == 16 + 12 + 4096)
    }

    @Test("encoding writes 'FERY', version, type, zero flags and little-endian lengths")
    func encodedLayout() throws {
        let bytes = try FrameHeader(type: .deviceChunk, headerLength: 0x000F_0304, payloadLength: 0x0A0B).encoded()
        #expect(bytes.count == 16)
        #expect(Array(bytes[0..<4]) == Array("FERY".utf8))
        #expect(bytes[4] == 1 && bytes[5] == 35 && bytes[6] == 0 && bytes[7] == 0)
        #expect(Array(bytes[8..<12]) == [0x04, 0x03, 0x0F, 0x00])
        #expect(Array(bytes[12..<16]) == [0x0B, 0x0A, 0, 0])
    }

    @Test(
        "every known type round-trips through the header",
        arguments: Ferry_V1_FrameType.allCases.filter { $0 != .unspecified })
    func typesRoundTrip(type: Ferry_V1_FrameType) throws {
        let header = FrameHeader(type: type, headerLength: 5, payloadLength: type.carriesPayload ? 7 : 0)
        #expect(try FrameHeader.parse(header.encoded()[...]) == header)
    }

    @Test("bad magic is rejected with the magic found")
    func badMagic() {
        #expect(throws: WireError.badMagic(0x4445_4144)) { try FrameHeader.parse(rawHeader(magic: 0x4445_4144)[...]) }
    }

    @Test("unknown frame version is rejected", arguments: [UInt8(0), 2, 255])
    func badVersion(version: UInt8) {
        #expect(throws: WireError.badVersion(version)) { try FrameHeader.parse(rawHeader(version: version)[...]) }
    }

    @Test("UNSPECIFIED and unknown types are rejected", arguments: [UInt8(0), 10, 31, 40, 200, 255])
    func unknownType(type: UInt8) {
        #expect(throws: WireError.unknownType(type)) { try FrameHeader.parse(rawHeader(type: type)[...]) }
    }

    @Test("reserved flags are rejected", arguments: [UInt16(1), 0x100, 0xFFFF])
    func reservedFlags(flags: UInt16) {
        #expect(throws: WireError.reservedFlags(flags)) { try FrameHeader.parse(rawHeader(flags: flags)[...]) }
    }

    @Test("message length over 1 MiB is rejected, exactly 1 MiB is fine")
    func headerTooLong() throws {
        let limit = FrameLimits.maxHeaderLength
        #expect(throws: WireError.headerTooLong(limit + 1, limit: limit)) {
            try FrameHeader.parse(rawHeader(headerLength: limit + 1)[...])
        }
        #expect(try FrameHeader.parse(rawHeader(headerLength: limit)[...]).headerLength == limit)
    }

    @Test("payload over 16 MiB is rejected, exactly 16 MiB is fine")
    func payloadTooLong() throws {
        let limit = FrameLimits.maxPayloadLength
        #expect(throws: WireError.payloadTooLong(.max, limit: limit)) {
            try FrameHeader.parse(rawHeader(type: 34, payloadLength: .max)[...])
        }
        #expect(try FrameHeader.parse(rawHeader(type: 35, payloadLength: limit)[...]).payloadLength == limit)
    }

    @Test("a payload on a type without one is rejected", arguments: [UInt8(1), 4, 5, 32, 36])
    func payloadNotAllowed(type: UInt8) throws {
        let frameType = try #require(Ferry_V1_FrameType.known(type))
        #expect(throws: WireError.payloadNotAllowed(frameType, length: 1)) {
            try FrameHeader.parse(rawHeader(type: type, payloadLength: 1)[...])
        }
    }

    @Test("fewer than 16 bytes is reported as truncated")
    func truncated() {
        #expect(throws: WireError.truncated(have: 15, need: 16)) { try FrameHeader.parse(rawHeader().prefix(15)) }
    }

    @Test("the encoder refuses what the parser would reject")
    func encoderRefuses() {
        #expect(throws: WireError.payloadNotAllowed(.hello, length: 1)) {
            try FrameHeader(type: .hello, headerLength: 0, payloadLength: 1).encoded()
        }
        #expect(throws: WireError.unknownType(0)) {
            try FrameHeader(type: .unspecified, headerLength: 0, payloadLength: 0).encoded()
        }
        #expect(throws: WireError.headerTooLong(FrameLimits.maxHeaderLength + 1, limit: FrameLimits.maxHeaderLength)) {
            try FrameHeader(type: .inventory, headerLength: FrameLimits.maxHeaderLength + 1, payloadLength: 0).encoded()
        }
    }

    @Test("header errors map to BAD_FRAME, message errors to BAD_MESSAGE")
    func errorCodes() {
        #expect(WireError.badMagic(0).errorCode == .badFrame)
        #expect(WireError.payloadTooLong(1, limit: 0).errorCode == .badFrame)
        #expect(WireError.badMessage(.hello, reason: "x").errorCode == .badMessage)
        #expect(WireError.badMagic(0x4445_4144).description.contains("0x44454144"))
    }
}
