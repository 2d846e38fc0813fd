import FerryModel
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An answer from ferryd: the body exactly as received (for `--output json`) and its decoded value.
public struct APIResponse<Value: Sendable>: Sendable {
    public var body: Data
    public var value: Value
}

/// `GET /v1/hosts`.
public struct HostList: Codable, Sendable, Equatable {
    public var hosts: [HypervisorHost]
}

/// `GET /v1/version`.
public struct ServerVersion: Codable, Sendable, Equatable {
    public var version: String
    public var protocolVersion: Int
    public var minProtocolVersion: Int
}

/// ferryd's error body: `{"error":{"code":"...","message":"..."}}`.
struct APIErrorBody: Decodable, DeclaredJSONKeys {
    struct Detail: Decodable, DeclaredJSONKeys {
        var code: String
        var message: String
    }
    var error: Detail
}

/// A 422 from the plan routes: every problem of the plan.
struct PlanRejection: Decodable {
    struct Detail: Decodable {
        var code: String
        var problems: [PlanProblem]
    }
    var error: Detail
}

/// ferryd's HTTP/JSON API.
public struct APIClient: Sendable {
    public let server: URL
    let session: URLSession

    /// A dead or hung ferryd fails a request after `timeout` seconds instead of hanging ferryctl.
    public init(server: URL, timeout: TimeInterval = 5) {
        self.server = server
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    public func hosts() async throws(CLIError) -> APIResponse<HostList> {
        try await get("/v1/hosts")
    }

    public func host(id: String) async throws(CLIError) -> APIResponse<HypervisorHost> {
        // Host ids are free text: escape everything that is not safe inside one path segment.
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;?#%")
        return try await get("/v1/hosts/\(id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id)")
    }

    public func version() async throws(CLIError) -> APIResponse<ServerVersion> {
        try await get("/v1/version")
    }

    /// GETs `path` and decodes a 2xx body as `Value`, or ferryd's error body into `CLIError.http`.
    func get<Value: Decodable & Sendable>(_ path: String) async throws(CLIError) -> APIResponse<Value> {
        try await send("GET", path)
    }

    /// Sends one request; a 422 `invalid_plan` answer becomes `CLIError.invalidPlan` with its problems.
    func send<Value: Decodable & Sendable>(_ method: String, _ path: String, body: Data? = nil) async throws(CLIError)
        -> APIResponse<Value>
    {
        guard let url = URL(string: server.absoluteString + path) else {
            throw .badResponse(reason: "cannot form a URL from \(server.absoluteString) and \(path)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw .unreachable(url: server.absoluteString, reason: Self.reason(error))
        }
        guard let http = response as? HTTPURLResponse else {
            throw .badResponse(reason: "\(method) \(path): not an HTTP response")
        }
        guard (200..<300).contains(http.statusCode) else {
            if let rejected = try? FerryJSON.decoder().decode(PlanRejection.self, from: data) {
                throw .invalidPlan(problems: rejected.error.problems, body: data)
            }
            if let body = try? FerryJSON.decoder(keys: .declared).decode(APIErrorBody.self, from: data) {
                throw .http(status: http.statusCode, code: body.error.code, message: body.error.message)
            }
            // Not ferryd's error shape (a proxy, another server): show what came back, briefly.
            let text = String(decoding: data.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .http(
                status: http.statusCode, code: "http_\(http.statusCode)", message: text.isEmpty ? "empty body" : text)
        }
        // Status bodies have a fast reader; Foundation decodes everything else, and what it cannot read.
        if let readable = Value.self as? any JSONReadable.Type, let value = Self.read(readable, data) as? Value {
            return APIResponse(body: data, value: value)
        }
        do {
            return APIResponse(body: data, value: try FerryJSON.decoder(for: Value.self).decode(Value.self, from: data))
        } catch {
            throw .badResponse(reason: "\(method) \(path): body is not a \(Value.self): \(error)")
        }
    }

    private static func read<T: JSONReadable>(_ type: T.Type, _ data: Data) -> T? { JSONReader.read(type, from: data) }

    /// Plain words for the usual network failures; Foundation's own text on Linux is just an error number.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? URLError else { return String(describing: error) }
        switch error.code {
        case .cannotConnectToHost: return "connection refused"
        case .timedOut: return "no answer within the timeout"
        case .cannotFindHost, .dnsLookupFailed: return "unknown host"
        case .networkConnectionLost: return "connection closed before an answer"
        case .notConnectedToInternet: return "network unreachable"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate:
            return "TLS handshake failed"
        default: return "\(error.localizedDescription) (URLError \(error.code.rawValue))"
        }
    }
}
