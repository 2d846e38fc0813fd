import FerryWire
import Testing

@Suite struct FrameParserTests {
    static let heartbeat: [UInt8] = {
        var hb = Ferry_V1_Heartbeat()
        hb.seq = 7
        hb.freeMemoryBytes = 1 << 33
        return try! WireMessage.heartbeat(hb).encoded()
    }()
    static let batch: [UInt8] = try! WireMessage.pageBatch(
        CanonicalVectors.pageBatch, payload: CanonicalVectors.pageBatchPayload
    ).encoded()

    @Test("nothing until a whole frame is in")
    func needsMore() throws {
        var parser = FrameParser()
        #expect(try parser.next() == nil)
        parser.feed(Self.heartbeat.dropLast())
        #expect(try parser.next() == nil)
        parser.feed(Self.heartbeat.suffix(1))
        let frame = try #require(try parser.next())
        #expect(frame.type == .heartbeat)
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test("a frame split at every byte position parses", arguments: [heartbeat, batch])
    func everySplit(bytes: [UInt8]) throws {
        let expected = try { () throws -> Frame? in
            var whole = FrameParser()
            whole.feed(bytes)
            return try whole.next()
        }()
        for split in 0...bytes.count {
            var parser = FrameParser()
            parser.feed(bytes[..<split])
            if split < bytes.count { #expect(try parser.next() == nil, "split \(split)") }
            parser.feed(bytes[split...])
            #expect(try parser.next() == expected, "split \(split)")
        }
    }

    @Test("a frame fed one byte at a time parses once, at the last byte")
    func byteByByte() throws {
        var parser = FrameParser()
        var frames: [Frame] = []
        for byte in Self.batch {
            parser.feed([byte])
            if let frame = try parser.next() { frames.append(frame) }
        }
        #expect(frames.count == 1)
        #expect(frames.first?.payload == CanonicalVectors.pageBatchPayload)
    }

    @Test("two frames back to back come out in order")
    func backToBack() throws {
        var parser = FrameParser()
        parser.feed(Self.batch + Self.heartbeat)
        #expect(try parser.next()?.type == .pageBatch)
        #expect(try parser.next()?.type == .heartbeat)
        #expect(try parser.next() == nil)
    }

    @Test("many frames in one buffer, with a partial one at the end")
    func manyFrames() throws {
        var parser = FrameParser()
        parser.feed(Array(repeating: Self.heartbeat, count: 1000).joined() + Self.heartbeat.prefix(3))
        var count = 0
        while try parser.next() != nil { count += 1 }
        #expect(count == 1000)
        #expect(parser.bufferedByteCount == 3)
    }

    @Test("a bad header is reported as soon as 16 bytes are in, and sticks")
    func errorIsEarlyAndSticky() throws {
        var parser = FrameParser()
        parser.feed(Self.heartbeat)
        parser.feed(rawHeader(type: 4, headerLength: FrameLimits.maxHeaderLength + 1))
        #expect(try parser.next()?.type == .heartbeat)
        let tooLong = WireError.headerTooLong(FrameLimits.maxHeaderLength + 1, limit: FrameLimits.maxHeaderLength)
        #expect(throws: tooLong) { try parser.next() }
        parser.feed(Self.heartbeat)
        #expect(throws: tooLong) { try parser.next() }
    }

    @Test("garbage instead of a frame is bad magic")
    func garbage() {
        var parser = FrameParser()
        parser.feed(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(throws: WireError.badMagic(0x2054_4547)) { try parser.next() }
    }
}
