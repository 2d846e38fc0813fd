import Foundation

/// DIR/ferryd.endpoints.json: where a running ferryd really listens (the kernel's ports when 0
/// was asked for), for scripts and tests to find it.
public struct EndpointsFile: Codable, Sendable, Equatable {
    public var agentsListen: String
    public var apiListen: String
    public var pid: Int32

    enum CodingKeys: String, CodingKey {
        case agentsListen = "agents_listen"
        case apiListen = "api_listen"
        case pid
    }

    public static let fileName = "ferryd.endpoints.json"

    public init(agentsListen: String, apiListen: String, pid: Int32) {
        self.agentsListen = agentsListen
        self.apiListen = apiListen
        self.pid = pid
    }

    /// Writes the file atomically (a temporary file renamed over it), so a reader never sees half.
    public func write(inDirectory directory: String) throws(CoordinatorError) {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw .endpointsFile(path: url.path, reason: "\(error)")
        }
    }
}
