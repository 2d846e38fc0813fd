/// Quantities as operators write them in plans: `300ms`, `2s`, `10m`, `4GiB`, `1GiB/s`, `500MB/s`.
/// Decimal prefixes are powers of 1000 (`MB`), binary ones powers of 1024 (`MiB`), as in IEC 80000-13.
public enum Units {
    /// A duration in milliseconds. A unit is required (`300` alone is ambiguous between ms and s).
    public static func milliseconds(_ text: String) -> Result<UInt64, UnitError> {
        let (number, unit) = split(text)
        guard !number.isEmpty else { return .failure(.notANumber(text)) }
        let scale: Double
        switch unit {
        case "ms": scale = 1
        case "s": scale = 1000
        case "m", "min": scale = 60_000
        case "h": scale = 3_600_000
        case "": return .failure(.missingUnit(text, expected: "ms, s, m or h"))
        default: return .failure(.unknownUnit(text, unit: unit, expected: "ms, s, m or h"))
        }
        return scaled(text, number, scale)
    }

    /// A size in bytes; a bare number is bytes.
    public static func bytes(_ text: String) -> Result<UInt64, UnitError> {
        let (number, unit) = split(text)
        guard !number.isEmpty else { return .failure(.notANumber(text)) }
        guard let scale = byteScales[unit] else {
            return .failure(.unknownUnit(text, unit: unit, expected: "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"))
        }
        return scaled(text, number, scale)
    }

    /// A rate in bytes per second: `<size>/s`; `0` and `unlimited` mean no cap (0).
    public static func bytesPerSecond(_ text: String) -> Result<UInt64, UnitError> {
        let trimmed = text.trimmingSpaces
        if trimmed == "unlimited" || trimmed == "0" { return .success(0) }
        guard trimmed.hasSuffix("/s") else {
            return .failure(.missingUnit(text, expected: "a size per second, e.g. 1GiB/s"))
        }
        return bytes(String(trimmed.dropLast(2))).mapError { _ in
            .unknownUnit(
                text, unit: String(trimmed.dropLast(2).drop { $0.isNumber || $0 == "." }),
                expected: "e.g. 500MB/s or 1GiB/s")
        }
    }

    static let byteScales: [String: Double] = [
        "": 1, "B": 1,
        "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
        "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776,
    ]

    /// `"1.5GiB"` → ("1.5", "GiB"); spaces between them are allowed.
    private static func split(_ text: String) -> (String, String) {
        let trimmed = text.trimmingSpaces
        let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        return (String(number), String(trimmed.dropFirst(number.count)).trimmingSpaces)
    }

    private static func scaled(_ text: String, _ number: String, _ scale: Double) -> Result<UInt64, UnitError> {
        guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else {
            return .failure(.notANumber(text))
        }
        let result = (value * scale).rounded()
        guard result < 1.8e19 else { return .failure(.tooLarge(text)) }
        return .success(UInt64(result))
    }
}

/// Why a quantity did not parse, worded for a plan validation message.
public enum UnitError: Error, Equatable, CustomStringConvertible {
    case missingUnit(String, expected: String)
    case unknownUnit(String, unit: String, expected: String)
    case notANumber(String)
    case tooLarge(String)

    public var description: String {
        switch self {
        case .missingUnit(let text, let expected): "'\(text)' has no unit (expected \(expected))"
        case .unknownUnit(let text, let unit, let expected): "'\(text)': unknown unit '\(unit)' (expected \(expected))"
        case .notANumber(let text): "'\(text)' is not a non-negative number with a unit"
        case .tooLarge(let text): "'\(text)' is too large"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
