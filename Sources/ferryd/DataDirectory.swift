import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The data directory: created if missing, and checked writable up front so the operator gets
/// one clear message instead of a database error later.
enum DataDirectory {
    static func prepare(_ path: String) throws {
        // Create each missing component with mkdir(2), so a failure names the component and errno.
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var prefix = ""
        for component in absolute.split(separator: "/") {
            prefix += "/\(component)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    throw ValidationError("--data-dir \(path): \(prefix) exists and is not a directory")
                }
                continue
            }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ValidationError(
                    "--data-dir \(path): cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        guard access(absolute, W_OK | X_OK) == 0 else {
            throw ValidationError("--data-dir \(path) is not writable: \(String(cString: strerror(errno)))")
        }
    }
}
