/// A type whose `CodingKeys` are its JSON keys, in snake_case, exactly as Foundation's
/// `.convertToSnakeCase` would have written its Swift names. Such a type is coded with
/// `FerryJSON.Keys.declared` (no conversion: the hot `status` path), and every type inside it
/// must declare its keys too, or have keys that no conversion changes (one lowercase word).
///
/// Encoding one with `.converted` gives the same bytes (snake_case converts to itself); decoding
/// one needs `.declared`: `FerryJSON.decoder(for:)` picks it.
public protocol DeclaredJSONKeys {}
