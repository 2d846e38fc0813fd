/// A `HOST:PORT` to listen on, as given on ferryd's command line. Port 0 lets the kernel choose.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (`[::1]:7100` for IPv6 literals).
    public init(parsing text: String) throws(CoordinatorError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw .badListenAddress(text, reason: "expected HOST:PORT")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .badListenAddress(text, reason: "the host is empty") }
        guard !host.contains(":") || text.hasPrefix("[") else {
            throw .badListenAddress(text, reason: "write an IPv6 address in brackets, e.g. [::1]:7100")
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw .badListenAddress(text, reason: "port '\(portText)' is not a number from 0 to 65535")
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
