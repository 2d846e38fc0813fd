import FerryWire
import Foundation
import Testing

/// Cross-language vectors: proto/vectors/{c,swift}/NAME.frame must decode to the canonical values.
@Suite struct VectorTests {
    /// The repository root: this file is Tests/FerryWireTests/VectorTests.swift.
    static let vectorsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proto/vectors")
    static let cDirectory = vectorsDirectory.appendingPathComponent("c")
    static let swiftDirectory = vectorsDirectory.appendingPathComponent("swift")
    static let cVectorsExist = FileManager.default.fileExists(atPath: cDirectory.path)
    static let writeRequested = ProcessInfo.processInfo.environment["FERRY_WRITE_VECTORS"] == "1"

    /// Reads one vector file and decodes it as exactly one frame.
    static func decodeFile(_ url: URL) throws -> WireMessage {
        let bytes = [UInt8](try Data(contentsOf: url))
        var parser = FrameParser()
        parser.feed(bytes)
        let frame = try #require(try parser.next(), "\(url.lastPathComponent): incomplete frame")
        #expect(parser.bufferedByteCount == 0, "\(url.lastPathComponent): bytes after the frame")
        return try WireMessage(frame: frame)
    }

    @Test(
        "FERRY_WRITE_VECTORS=1 writes proto/vectors/swift",
        .enabled(if: writeRequested, "set FERRY_WRITE_VECTORS=1 to rewrite proto/vectors/swift"))
    func writeSwiftVectors() throws {
        try FileManager.default.createDirectory(at: Self.swiftDirectory, withIntermediateDirectories: true)
        for (name, message) in CanonicalVectors.all {
            let url = Self.swiftDirectory.appendingPathComponent("\(name).frame")
            try Data(try message.encoded()).write(to: url, options: .atomic)
        }
    }

    @Test(
        "C vectors decode to the canonical values",
        .enabled(if: cVectorsExist, "proto/vectors/c does not exist yet (written by the C agent's ferry-vectors)"),
        arguments: CanonicalVectors.all.map(\.name))
    func decodesCVector(name: String) throws {
        let url = Self.cDirectory.appendingPathComponent("\(name).frame")
        #expect(FileManager.default.fileExists(atPath: url.path), "missing C vector \(url.path)")
        let expected = try #require(CanonicalVectors.all.first { $0.name == name }).message
        #expect(try Self.decodeFile(url) == expected)
    }

    @Test("Swift vectors decode to the canonical values", arguments: CanonicalVectors.all.map(\.name))
    func decodesSwiftVector(name: String) throws {
        let url = Self.swiftDirectory.appendingPathComponent("\(name).frame")
        let expected = try #require(CanonicalVectors.all.first { $0.name == name }).message
        if Self.writeRequested && !FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.createDirectory(at: Self.swiftDirectory, withIntermediateDirectories: true)
            try Data(try expected.encoded()).write(to: url, options: .atomic)
        }
        #expect(FileManager.default.fileExists(atPath: url.path), "missing Swift vector \(url.path)")
        #expect(try Self.decodeFile(url) == expected)
    }
}
