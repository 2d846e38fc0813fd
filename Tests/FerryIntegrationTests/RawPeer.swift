import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Plain POSIX sockets for the tests that must misbehave on the wire or need a dead port.
enum RawPeer {
    /// Connects to `address` (`127.0.0.1:PORT`), sends `bytes`, and reads until the peer closes
    /// the connection. Returns true if it closed within `timeoutSeconds`.
    static func sendAndAwaitClose(to address: String, bytes: [UInt8], timeoutSeconds: Int = 10) throws -> Bool {
        let fd = try connect(to: address)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }  // orderly close (possibly after an Error frame)
            if n < 0 { return errno == ECONNRESET }  // reset also means closed; EAGAIN = timeout
        }
    }

    /// Connects to `address`, sends `bytes`, and returns everything the peer sent until it closed
    /// the connection (nil if it did not close within `timeoutSeconds`).
    static func exchange(with address: String, bytes: [UInt8], timeoutSeconds: Int = 10) throws -> [UInt8]? {
        let fd = try connect(to: address)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return received }
            if n < 0 { return errno == ECONNRESET ? received : nil }
            received += buffer[0..<n]
        }
    }

    /// A loopback TCP port that nothing listens on (bound, then released).
    static func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw IntegrationError.timeout("bind to an ephemeral port: errno \(errno)") }
        return UInt16(bigEndian: addr.sin_port)
    }

    private static func connect(to address: String) throws -> Int32 {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else {
            throw IntegrationError.timeout("bad address \(address)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(String(parts[0]))
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw IntegrationError.timeout("connect to \(address): errno \(errno)")
        }
        return fd
    }
}
