import Foundation

/// The address of ferryd's HTTP API: `http(s)://HOST[:PORT]`, nothing else (no path, query or
/// credentials), so a typo like `--server 127.0.0.1:7070` is caught before any request is made.
public enum ServerURL {
    public static let environmentVariable = "FERRY_SERVER"
    public static let defaultValue = "http://127.0.0.1:7070"

    /// Checks `text` and returns it as a URL without a trailing slash.
    public static func parse(_ text: String) throws(CLIError) -> URL {
        func invalid(_ reason: String) -> CLIError { .invalidServer(value: text, reason: reason) }
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        // The common slip: `--server 127.0.0.1:7070`. Say what is missing rather than "malformed".
        guard text.contains("://") else { throw invalid("missing the scheme, write http://\(trimmed)") }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw invalid("expected http://HOST[:PORT]")
        }
        guard scheme == "http" || scheme == "https" else { throw invalid("scheme must be http or https") }
        guard let host = components.host, !host.isEmpty else { throw invalid("missing host") }
        if let port = components.port, !(1...65535).contains(port) { throw invalid("port must be 1-65535") }
        guard components.path.isEmpty, components.query == nil, components.fragment == nil else {
            throw invalid("no path, query or fragment allowed")
        }
        guard components.user == nil, components.password == nil else { throw invalid("no credentials allowed") }
        guard let url = components.url else { throw invalid("expected http://HOST[:PORT]") }
        return url
    }
}
