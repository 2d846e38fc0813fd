import Foundation

/// Writes JSON byte for byte as Foundation's `JSONEncoder` does with
/// `[.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]`: two-space indents, `"key" : value`,
/// an empty container as `[`, a blank line, `]`. The caller writes keys in sorted order.
///
/// For hot, fixed-shape bodies (`status` lists) where Foundation's encoder cost more than the work:
/// plain strings and integers are written here; a string that needs escaping and a non-integral
/// number go through Foundation itself, so even their rare forms stay identical
/// (StatusJSONCompatibilityTests).
public struct PrettyJSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Per open container: true while nothing was written in it.
    private var emptyContainers: [Bool] = []

    public init(reservingCapacity capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() { open(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { open(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// Starts an object member; write its value next.
    public mutating func key(_ key: StaticString) {
        nextItem()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
    }

    /// One object member: `key` then its value.
    public mutating func field(_ key: StaticString, _ value: String) {
        self.key(key)
        string(value)
    }
    public mutating func field(_ key: StaticString, _ value: some BinaryInteger) {
        self.key(key)
        integer(value)
    }
    public mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        bool(value)
    }
    public mutating func field(_ key: StaticString, _ value: Double) {
        self.key(key)
        double(value)
    }
    public mutating func field(_ key: StaticString, _ value: Date) {
        self.key(key)
        date(value)
    }

    /// Starts an array element; write its value next.
    public mutating func element() { nextItem() }

    public mutating func string(_ value: String) {
        var value = value
        let plain = value.withUTF8 { utf8 in
            !utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        }
        guard plain else { return foundation(value) }
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func integer(_ value: some BinaryInteger) {
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func double(_ value: Double) {
        if value.magnitude < 1e15, let whole = Int64(exactly: value) {
            integer(whole)
        } else {
            foundation(value)
        }
    }

    public mutating func date(_ value: Date) { string(ISO8601Date.string(value)) }

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        emptyContainers.append(true)
    }

    private mutating func close(_ bracket: UInt8) {
        if emptyContainers.removeLast() { bytes.append(UInt8(ascii: "\n")) }
        bytes.append(UInt8(ascii: "\n"))
        indent()
        bytes.append(bracket)
    }

    private mutating func nextItem() {
        if emptyContainers[emptyContainers.count - 1] {
            emptyContainers[emptyContainers.count - 1] = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
        bytes.append(UInt8(ascii: "\n"))
        indent()
    }

    private mutating func indent() {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * emptyContainers.count))
    }

    /// A value as Foundation writes it on its own (a JSON fragment).
    private mutating func foundation(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Strings and finite numbers always encode; `null` keeps the writer total (Foundation
        // itself throws on a non-finite number, which no status holds).
        let encoded: Data = (try? encoder.encode(value)) ?? Data("null".utf8)
        bytes.append(contentsOf: encoded)
    }
}
