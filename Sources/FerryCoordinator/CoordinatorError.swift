import FerryStore

/// What can stop the coordinator from starting or serving. Third-party errors (NIO, Hummingbird,
/// the store) are wrapped here with the context an operator needs.
public enum CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// A `HOST:PORT` option that does not parse.
    case badListenAddress(String, reason: String)
    /// A socket could not be bound.
    case bindFailed(address: String, reason: String)
    /// The store failed while starting up.
    case store(StoreError)
    /// The endpoints file could not be written.
    case endpointsFile(path: String, reason: String)
    /// A part of the coordinator stopped although no shutdown was asked for.
    case stopped(part: String)

    public var description: String {
        switch self {
        case .badListenAddress(let text, let reason): "bad listen address '\(text)': \(reason)"
        case .bindFailed(let address, let reason): "cannot listen on \(address): \(reason)"
        case .store(let error): "store: \(error)"
        case .endpointsFile(let path, let reason): "cannot write \(path): \(reason)"
        case .stopped(let part): "the \(part) stopped unexpectedly"
        }
    }
}
