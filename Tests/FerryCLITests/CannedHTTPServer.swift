import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback HTTP/1.1 server that answers every request with one fixed response, on a port the
/// kernel picks. Enough to run ferryctl's real client code end to end without ferryd.
final class CannedHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let response: Data
    private let lock = NSLock()
    private var paths: [String] = []

    /// The request paths received so far, in order.
    var requestedPaths: [String] { lock.withLock { paths } }

    var url: String { "http://127.0.0.1:\(port)" }

    init(status: Int, body: String) throws {
        let reason = status == 200 ? "OK" : "Error"
        let head =
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        response = Data((head + body).utf8)

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    deinit { close(listener) }

    /// Shuts the listener so the accept loop ends.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            var request = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            // Read the headers, then the body if Content-Length announces one (plan submissions):
            // closing with unread bytes would reset the connection under the client.
            var expected: Int?
            while expected.map({ request.count < $0 }) ?? true {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                request += buffer[0..<n]
                if expected == nil, let end = Self.headerEnd(request) {
                    let head = String(decoding: request[..<end], as: UTF8.self).lowercased()
                    let length =
                        head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                        ?? 0
                    expected = end + 4 + length
                }
            }
            let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self)
            let parts = line.split(separator: " ")
            if parts.count >= 2 { lock.withLock { paths.append(String(parts[1])) } }
            response.withUnsafeBytes { raw in _ = write(client, raw.baseAddress, raw.count) }
            close(client)
        }
    }

    /// Index of the `\r\n\r\n` that ends the headers.
    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        return (0...(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }
    }
}
