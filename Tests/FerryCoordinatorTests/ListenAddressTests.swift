import FerryCoordinator
import Testing

@Suite struct ListenAddressTests {
    @Test(
        "valid addresses parse",
        arguments: [
            ("0.0.0.0:7100", "0.0.0.0", 7100), ("127.0.0.1:0", "127.0.0.1", 0), ("localhost:65535", "localhost", 65535),
            ("[::1]:7070", "::1", 7070),
        ])
    func valid(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address.description == text)
    }

    @Test(
        "invalid addresses are refused with a reason",
        arguments: ["7100", ":7100", "host:", "host:70000", "host:-1", "::1:7100", "h:x"])
    func invalid(text: String) {
        #expect(throws: CoordinatorError.self) { try ListenAddress(parsing: text) }
    }
}
