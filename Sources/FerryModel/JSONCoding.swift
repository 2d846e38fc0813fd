import Foundation
import Synchronization

/// The one JSON convention of Ferry's HTTP API and `ferryctl --output json`:
/// snake_case keys, ISO 8601 dates, sorted keys (stable output for scripts and tests).
///
/// Keys are snake_case either way; `keys` says how they get there. Most types are coded with
/// their Swift names converted (`.converted`: Foundation's snake_case rules). The types `status`
/// and its lists are made of declare their keys already in snake_case (`DeclaredJSONKeys`) and
/// are coded with `.declared`, which converts nothing: a plan's status list has thousands of keys,
/// and converting each cost more than the rest of its JSON. The bytes are the same
/// (StatusJSONCompatibilityTests). Dates use `ISO8601Date`, identical to Foundation's `.iso8601`.
public enum FerryJSON {
    public enum Keys: Sendable {
        /// Swift names converted to snake_case (Foundation's rules; decoding caches each key).
        case converted
        /// The type's CodingKeys are the JSON keys (`DeclaredJSONKeys`).
        case declared
    }

    public static func encoder(keys: Keys = .converted) -> JSONEncoder {
        let encoder = JSONEncoder()
        if keys == .converted { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601Date.string(date))
        }
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder(keys: Keys = .converted) -> JSONDecoder {
        let decoder = JSONDecoder()
        if keys == .converted {
            decoder.keyDecodingStrategy = .custom { path in
                SnakeCaseKey(stringValue: SnakeCaseKey.camelCase(path.last?.stringValue ?? ""))
            }
        }
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = ISO8601Date.date(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "Expected date string to be ISO8601-formatted.")
            }
            return date
        }
        return decoder
    }

    /// The key style for `type`: `.declared` if it declares its keys.
    public static func keys(for type: Any.Type) -> Keys {
        type is any DeclaredJSONKeys.Type ? .declared : .converted
    }

    /// A decoder for `type` in its key style.
    public static func decoder(for type: Any.Type) -> JSONDecoder { decoder(keys: keys(for: type)) }

    /// An encoder for `type` in its key style.
    public static func encoder(for type: Any.Type) -> JSONEncoder { encoder(keys: keys(for: type)) }
}

/// A JSON key converted from snake_case for decoding, by Foundation's `.convertFromSnakeCase`
/// rules, each distinct key converted once per process.
struct SnakeCaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    private static let cache = Mutex<[String: String]>([:])

    /// `plan_id` → `planId`, cached.
    static func camelCase(_ snake: String) -> String {
        if let known = cache.withLock({ $0[snake] }) { return known }
        let converted = convertFromSnakeCase(snake)
        // Bounded: keys come from the peer (a dictionary's keys are converted too).
        cache.withLock { if $0.count < 4096 { $0[snake] = converted } }
        return converted
    }

    /// Foundation's `.convertFromSnakeCase`: leading and trailing underscores kept, the words
    /// between joined, the first lowercased and the others capitalized; a key without an inner
    /// underscore is left as it is.
    static func convertFromSnakeCase(_ key: String) -> String {
        guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first && key[last] == "_" { key.formIndex(before: &last) }
        let words = key[first...last].split(separator: "_")
        guard words.count > 1 else { return key }
        let joined = ([words[0].lowercased()] + words[1...].map { $0.capitalized }).joined()
        return String(key[..<first]) + joined + String(key[key.index(after: last)...])
    }
}
