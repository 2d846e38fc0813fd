import FerryCLI
import Foundation
import Testing

@Suite("ferryctl commands: parsing, exit codes, output")
struct CommandTests {
    static let now = Date(timeIntervalSince1970: 1_764_000_000)

    static func run(_ arguments: [String], environment: [String: String] = [:]) async -> CommandResult {
        await Ferryctl.execute(arguments, context: CommandContext(environment: environment, now: now))
    }

    @Test(arguments: [
        "http://127.0.0.1:7070", "https://ferry.example.com", "http://[::1]:7070", "http://host:1/",
    ])
    func goodServerURLsParse(text: String) throws {
        let url = try ServerURL.parse(text)
        #expect(!url.absoluteString.hasSuffix("/"))
    }

    @Test(arguments: [
        ("127.0.0.1:7070", "missing the scheme, write http://127.0.0.1:7070"),
        ("ftp://host", "scheme must be http or https"),
        ("http://", "missing host"), ("http://host:70000", "port must be 1-65535"),
        ("http://host/v1", "no path, query or fragment allowed"), ("http://u:p@host", "no credentials allowed"),
    ])
    func badServerURLsNameTheReason(text: String, reason: String) {
        #expect(throws: CLIError.invalidServer(value: text, reason: reason)) { try ServerURL.parse(text) }
    }

    @Test func badServerFlagIsAUsageError() async {
        let result = await Self.run(["hosts", "--server", "localhost:7070"])
        #expect(result.exitCode == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("ferryctl: "))
        #expect(result.stderr.contains("localhost:7070"))
        #expect(result.stderr.hasSuffix("\n") && result.stderr.filter { $0 == "\n" }.count == 1)
    }

    /// Each subcommand's help is its own, whether asked as `SUB --help` or `help SUB`.
    @Test(arguments: [
        (["status", "--help"], "ferryctl status"), (["plan", "submit", "--help"], "ferryctl plan submit"),
        (["help", "events"], "ferryctl events"), (["hosts", "-h"], "ferryctl hosts"),
    ])
    func subcommandHelpIsTheSubcommands(arguments: [String], usage: String) async {
        let result = await Self.run(arguments)
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("USAGE: \(usage)"), "\(result.stdout)")
        #expect(result.stderr.isEmpty)
    }

    @Test func noSubcommandPrintsTheRootHelp() async {
        let result = await Self.run([])
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("USAGE: ferryctl <subcommand>"))
    }

    @Test func unknownSubcommandIsAUsageError() async {
        let result = await Self.run(["hostz"])
        #expect(result.exitCode == 2)
        #expect(result.stderr.hasPrefix("ferryctl: "))
    }

    @Test func unreachableServerIsOneLineAndExitOne() async throws {
        // A port that was just free: bind, read the port, close.
        let server = try CannedHTTPServer(status: 200, body: "{}")
        let url = server.url
        server.stop()
        let result = await Self.run(["hosts", "--server", url])
        #expect(result.exitCode == 1)
        #expect(result.stderr.hasPrefix("ferryctl: cannot reach ferryd at \(url): "))
        #expect(result.stderr.filter { $0 == "\n" }.count == 1)
    }

    @Test func environmentChoosesTheServerWhenNoFlag() async throws {
        let server = try CannedHTTPServer(status: 200, body: #"{"hosts":[]}"#)
        defer { server.stop() }
        let result = await Self.run(["hosts"], environment: ["FERRY_SERVER": server.url])
        #expect(result.exitCode == 0)
        #expect(result.stdout == "No hosts registered.\n")
        #expect(server.requestedPaths == ["/v1/hosts"])
    }

    @Test func jsonOutputIsTheAPIBodyVerbatim() async throws {
        let body = #"{"hosts":[]}"#
        let server = try CannedHTTPServer(status: 200, body: body)
        defer { server.stop() }
        let result = await Self.run(["hosts", "--output", "json", "--server", server.url])
        #expect(result == CommandResult(stdout: body + "\n", stderr: "", exitCode: 0))
    }

    @Test func apiErrorBodyBecomesTheMessage() async throws {
        let server = try CannedHTTPServer(
            status: 404, body: #"{"error":{"code":"not_found","message":"no host 'nope' is known"}}"#)
        defer { server.stop() }
        let result = await Self.run(["hosts", "show", "nope", "--server", server.url])
        #expect(result.exitCode == 1)
        #expect(result.stderr == "ferryctl: not_found: no host 'nope' is known\n")
        #expect(server.requestedPaths == ["/v1/hosts/nope"])
    }

    @Test func hostIDsAreEscapedInThePath() async throws {
        let server = try CannedHTTPServer(status: 404, body: #"{"error":{"code":"not_found","message":"x"}}"#)
        defer { server.stop() }
        _ = await Self.run(["hosts", "show", "a/b?c", "--server", server.url])
        #expect(server.requestedPaths == ["/v1/hosts/a%2Fb%3Fc"])
    }

    @Test func bodyThatIsNotTheExpectedShapeIsABadResponse() async throws {
        let server = try CannedHTTPServer(status: 200, body: #"{"hosts":"nope"}"#)
        defer { server.stop() }
        let result = await Self.run(["hosts", "--server", server.url])
        #expect(result.exitCode == 1)
        #expect(result.stderr.hasPrefix("ferryctl: unexpected answer from ferryd: GET /v1/hosts"))
    }

    @Test func versionPrintsBothSides() async throws {
        let server = try CannedHTTPServer(
            status: 200, body: #"{"version":"0.1.0","protocol_version":1,"min_protocol_version":1}"#)
        defer { server.stop() }
        let result = await Self.run(["version", "--server", server.url])
        #expect(result.exitCode == 0)
        #expect(result.stdout == "ferryctl  0.1.0\nferryd    0.1.0 (protocol 1, min 1)\n")
    }
}
