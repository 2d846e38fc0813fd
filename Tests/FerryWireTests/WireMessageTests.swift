import FerryWire
import Testing

@Suite struct WireMessageTests {
    @Test("every message round-trips through its frame", arguments: CanonicalVectors.all.map(\.name))
    func roundTrip(name: String) throws {
        let message = try #require(CanonicalVectors.all.first { $0.name == name }).message
        var parser = FrameParser()
        parser.feed(try message.encoded())
        let frame = try #require(try parser.next())
        #expect(frame.type == message.frameType)
        #expect(try WireMessage(frame: frame) == message)
    }

    @Test("every known frame type has a message case")
    func everyTypeCovered() {
        let covered = Set(CanonicalVectors.all.map(\.message.frameType.rawValue))
        let known = Set(Ferry_V1_FrameType.allCases.filter { $0 != .unspecified }.map(\.rawValue))
        #expect(covered == known)
    }

    @Test("default-valued messages round-trip as empty frames")
    func emptyMessage() throws {
        let frame = try WireMessage.heartbeat(Ferry_V1_Heartbeat()).frame()
        #expect(frame.message.isEmpty)
        #expect(try WireMessage(frame: frame) == .heartbeat(Ferry_V1_Heartbeat()))
    }

    @Test("bytes that are not the type's protobuf are BAD_MESSAGE")
    func badProtobuf() throws {
        // Field 1 as a length-delimited value that runs past the end.
        let frame = Frame(type: .hello, message: [0x0A, 0x05, 0x41])
        #expect {
            try WireMessage(frame: frame)
        } throws: { error in
            guard case .badMessage(.hello, _) = error as? WireError else { return false }
            return true
        }
    }

    @Test("a payload on a message type without one is refused when decoding")
    func payloadOnControlMessage() {
        let frame = Frame(type: .heartbeat, message: [], payload: [1, 2])
        #expect(throws: WireError.payloadNotAllowed(.heartbeat, length: 2)) { try WireMessage(frame: frame) }
    }

    @Test("the error helper fills code and message")
    func errorHelper() throws {
        guard case .error(let error) = WireMessage.error(.duplicateHost, "host-a is connected") else {
            Issue.record("not an error message")
            return
        }
        #expect(error.code == .duplicateHost)
        #expect(error.message == "host-a is connected")
    }

    @Test("an oversized payload is refused by the encoder")
    func oversizedPayload() {
        let payload = [UInt8](repeating: 0, count: Int(FrameLimits.maxPayloadLength) + 1)
        #expect(throws: WireError.payloadTooLong(FrameLimits.maxPayloadLength + 1, limit: FrameLimits.maxPayloadLength))
        {
            try WireMessage.deviceChunk(Ferry_V1_DeviceChunk(), payload: payload).encoded()
        }
    }
}
