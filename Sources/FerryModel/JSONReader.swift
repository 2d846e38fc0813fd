import Foundation

/// A forward-only JSON reader over UTF-8 bytes, for decoding hot, fixed-shape bodies (`status`
/// lists) without Foundation's `Decodable` machinery, which cost more than the rest of the request.
///
/// It reads only what a valid document of the expected shape holds; anything else (a syntax error,
/// a number that is not a plain integer where one is asked, an unknown enum value) throws
/// `JSONReader.Mismatch`, and the caller then decodes the same bytes with Foundation's decoder,
/// which either agrees or reports the error in its own words. So a successful read always gives
/// what Foundation would have given (StatusJSONCompatibilityTests).
public struct JSONReader {
    /// The bytes are not what the fast path reads; decode them with Foundation instead.
    public struct Mismatch: Error {
        public init() {}
    }

    private let bytes: [UInt8]
    private var index = 0
    /// True right after a `{` or `[`: the next item has no `,` before it. Any item or closing
    /// bracket read ends that, so nesting needs no stack.
    private var atContainerStart = false

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Checks that only whitespace is left.
    public mutating func end() throws(Mismatch) {
        skipWhitespace()
        guard index == bytes.count else { throw Mismatch() }
    }

    public mutating func beginObject() throws(Mismatch) {
        try expect(UInt8(ascii: "{"))
        atContainerStart = true
    }
    public mutating func beginArray() throws(Mismatch) {
        try expect(UInt8(ascii: "["))
        atContainerStart = true
    }

    /// The next key of the object being read, or nil at its end (the `}` consumed).
    public mutating func nextKey() throws(Mismatch) -> String? {
        guard try nextItem(closing: UInt8(ascii: "}")) else { return nil }
        let key = try string()
        try expect(UInt8(ascii: ":"))
        return key
    }

    /// True if another element follows in the array being read; false at its end (`]` consumed).
    public mutating func nextElement() throws(Mismatch) -> Bool {
        try nextItem(closing: UInt8(ascii: "]"))
    }

    /// Consumes a `null` if one is next.
    public mutating func null() -> Bool {
        skipWhitespace()
        guard bytes.count - index >= 4, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
            bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l")
        else { return false }
        index += 4
        return true
    }

    public mutating func bool() throws(Mismatch) -> Bool {
        skipWhitespace()
        if match("true") { return true }
        if match("false") { return false }
        throw Mismatch()
    }

    /// A plain integer (`-`? digits) that fits `T`.
    public mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(Mismatch) -> T {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: T = 0
        var digits = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let digit = T(bytes[index] - UInt8(ascii: "0"))
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) =
                negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw Mismatch() }
            value = next
            index += 1
            digits += 1
        }
        // Leading zeros, fractions and exponents: Foundation's call.
        guard digits > 0, digits == 1 || bytes[index - digits] != UInt8(ascii: "0"), !atNumberContinuation()
        else { throw Mismatch() }
        return value
    }

    /// A number, as Swift's correctly rounded parser reads its text.
    public mutating func double() throws(Mismatch) -> Double {
        skipWhitespace()
        let start = index
        while index < bytes.count, isNumberByte(bytes[index]) { index += 1 }
        guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)),
            value.isFinite
        else { throw Mismatch() }
        return value
    }

    public mutating func string() throws(Mismatch) -> String {
        skipWhitespace()
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                defer { index += 1 }
                return String(decoding: bytes[start..<index], as: UTF8.self)
            case UInt8(ascii: "\\"):
                return try escapedString(from: start)
            case 0..<0x20:
                throw Mismatch()
            default:
                index += 1
            }
        }
        throw Mismatch()
    }

    public mutating func date() throws(Mismatch) -> Date {
        guard let date = ISO8601Date.date(try string()) else { throw Mismatch() }
        return date
    }

    /// Skips one value of any kind.
    public mutating func skipValue() throws(Mismatch) {
        skipWhitespace()
        guard index < bytes.count else { throw Mismatch() }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try beginObject()
            while try nextKey() != nil {
                try skipValue()
            }
        case UInt8(ascii: "["):
            try beginArray()
            while try nextElement() {
                try skipValue()
            }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): guard null() else { throw Mismatch() }
        default: _ = try double()
        }
    }

    private mutating func escapedString(from start: Int) throws(Mismatch) -> String {
        var utf8 = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Mismatch() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by its low one.
                        guard match("\\u") else { throw Mismatch() }
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Mismatch() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Mismatch() }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default: throw Mismatch()
                }
            case 0..<0x20:
                throw Mismatch()
            default:
                utf8.append(byte)
            }
        }
        throw Mismatch()
    }

    private mutating func hex4() throws(Mismatch) -> UInt32 {
        guard bytes.count - index >= 4 else { throw Mismatch() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Mismatch()
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func nextItem(closing: UInt8) throws(Mismatch) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw Mismatch() }
        let first = atContainerStart
        atContainerStart = false
        if bytes[index] == closing {
            index += 1
            return false
        }
        if !first { try expect(UInt8(ascii: ",")) }
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(Mismatch) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw Mismatch() }
        index += 1
    }

    private mutating func match(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let matches = literal.withUTF8Buffer { lit in (0..<count).allSatisfy { bytes[index + $0] == lit[$0] } }
        if matches { index += count }
        return matches
    }

    private func atNumberContinuation() -> Bool {
        index < bytes.count && isNumberByte(bytes[index])
    }

    private func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
            UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default: false
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }
}

/// A type `JSONReader` can read directly (the fast path of its decoding; Foundation's
/// `Decodable` conformance stays the reference and the fallback).
public protocol JSONReadable: Decodable {
    static func read(from reader: inout JSONReader) throws(JSONReader.Mismatch) -> Self
}

extension JSONReader {
    /// `T` read from `data` by the fast path, or nil if it cannot read it (then decode with
    /// Foundation, which will agree or explain).
    public static func read<T: JSONReadable>(_: T.Type, from data: some Collection<UInt8>) -> T? {
        var reader = JSONReader(Array(data))
        do {
            let value = try T.read(from: &reader)
            try reader.end()
            return value
        } catch {
            return nil
        }
    }
}
