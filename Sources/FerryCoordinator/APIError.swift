import FerryModel
import Foundation
import Hummingbird
import Logging

/// An error of the HTTP API, rendered as `{"error":{"code":"...","message":"..."}}` with the
/// right status, so scripts and ferryctl read one shape for every failure.
public struct APIError: Error, Sendable, Equatable, HTTPResponseError {
    public var status: HTTPResponse.Status
    /// Stable snake_case code for scripts (`not_found`, `internal`, ...).
    public var code: String
    /// One line for people.
    public var message: String

    public init(status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: message)
    }

    public static func `internal`(_ message: String) -> APIError {
        APIError(status: .internalServerError, code: "internal", message: message)
    }

    /// The API's shape for an error Hummingbird raised itself (no route, bad method, ...).
    init(_ error: HTTPError) {
        let code =
            switch error.status {
            case .notFound: "not_found"
            case .methodNotAllowed: "method_not_allowed"
            case .badRequest: "bad_request"
            default: error.status.code >= 500 ? "internal" : "http_\(error.status.code)"
            }
        self.init(status: error.status, code: code, message: error.body ?? error.status.reasonPhrase)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(APIErrorBody(error: .init(code: code, message: message)), status: status)
    }
}

/// `{"error":{"code","message"}}`.
struct APIErrorBody: Encodable, DeclaredJSONKeys {
    struct Detail: Encodable, DeclaredJSONKeys {
        var code: String
        var message: String
    }
    var error: Detail
}

/// JSON responses in Ferry's one convention (FerryJSON: snake_case, ISO 8601 dates, sorted keys).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        make(bytes: try FerryJSON.encoder(for: type(of: value)).encode(value), status: status)
    }

    /// A body already written in the convention (`MigrationStatusJSON`).
    static func make(bytes: some Collection<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 1)
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: buffer))
    }
}

/// Renders every error leaving a route (including "no such route") in the API's error shape.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error)
        } catch {
            logger.error("API request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError.internal("\(error)")
        }
    }
}
