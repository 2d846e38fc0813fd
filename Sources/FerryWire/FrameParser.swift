/// Incremental frame parser, independent of any I/O library: feed it bytes as they arrive, pull
/// complete frames out. It validates the fixed header as soon as its 16 bytes are in, so an
/// oversized or malformed frame is refused before its body is waited for (or buffered).
///
/// After an error the parser stays failed: every later `next()` throws the same error, because
/// once framing is lost nothing after it can be trusted.
public struct FrameParser: Sendable {
    private var buffer: [UInt8] = []
    /// Index of the first byte not yet consumed; bytes before it are dropped lazily.
    private var readIndex = 0
    private var failure: WireError?

    public init() {}

    /// Bytes received but not yet returned as part of a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, nil if more bytes are needed, or the reason the stream is invalid.
    public mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        guard bufferedByteCount >= FrameLimits.fixedHeaderSize else { return nil }
        let header: FrameHeader
        do {
            header = try FrameHeader.parse(buffer[readIndex..<readIndex + FrameLimits.fixedHeaderSize])
        } catch {
            failure = error
            throw error
        }
        guard bufferedByteCount >= header.frameLength else { return nil }
        let messageStart = readIndex + FrameLimits.fixedHeaderSize
        let payloadStart = messageStart + Int(header.headerLength)
        let frameEnd = payloadStart + Int(header.payloadLength)
        let frame = Frame(
            type: header.type, message: Array(buffer[messageStart..<payloadStart]),
            payload: Array(buffer[payloadStart..<frameEnd]))
        readIndex = frameEnd
        compactIfWorthIt()
        return frame
    }

    /// Drops consumed bytes once they are most of the buffer, so memory stays bounded by about
    /// two frames while each byte is moved at most a constant number of times.
    private mutating func compactIfWorthIt() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}
