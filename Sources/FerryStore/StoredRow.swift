import Foundation
import GRDB

/// Reads one stored row back into model values, turning anything unexpected (NULL where a value
/// must be, an unknown enum name) into `StoreError.corruptRow` naming the table, the row and the
/// column instead of crashing the coordinator.
struct StoredRow {
    let row: Row
    let table: String
    let key: String
    /// Column positions of the statement, when the caller read many rows of one statement: GRDB's
    /// lookup by name is case-insensitive and lowercases on every call, a visible cost in `status`.
    private let columns: ColumnIndexes?

    init(_ row: Row, table: String, keyColumns: [String], columns: ColumnIndexes? = nil) {
        self.row = row
        self.table = table
        self.columns = columns
        self.key = keyColumns.map { name in
            let value: DatabaseValue = columns?.positions[name].map { row[$0] } ?? row[name]
            return value.description
        }.joined(separator: "/")
    }

    func value<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws(StoreError) -> T {
        do {
            if let index = columns?.positions[column] { return try row.decode(T.self, atIndex: index) }
            return try row.decode(T.self, forColumn: column)
        } catch {
            throw .corruptRow(table: table, key: key, reason: "column \(column): \(error)")
        }
    }

    func optional<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws(StoreError) -> T? {
        do {
            if let index = columns?.positions[column] { return try row.decode(T?.self, atIndex: index) }
            return try row.decode(T?.self, forColumn: column)
        } catch {
            throw .corruptRow(table: table, key: key, reason: "column \(column): \(error)")
        }
    }

    /// A non-negative INTEGER column read as the model's unsigned type.
    func unsigned<T: FixedWidthInteger & UnsignedInteger>(_ column: String, as type: T.Type = T.self) throws(StoreError)
        -> T
    {
        let stored = try value(column, as: Int64.self)
        guard let result = T(exactly: stored) else {
            throw .corruptRow(table: table, key: key, reason: "column \(column): \(stored) is not a \(T.self)")
        }
        return result
    }

    func int(_ column: String) throws(StoreError) -> Int {
        try value(column, as: Int.self)
    }

    func enumeration<E: RawRepresentable>(_ column: String, as type: E.Type = E.self) throws(StoreError) -> E
    where E.RawValue == String {
        let name = try value(column, as: String.self)
        guard let result = E(rawValue: name) else {
            throw .corruptRow(table: table, key: key, reason: "column \(column): unknown \(E.self) '\(name)'")
        }
        return result
    }
}

/// The positions of a statement's columns by exact name, read once from its first row. A name not
/// found here is looked up by GRDB as before.
struct ColumnIndexes {
    let positions: [String: Int]

    init(_ row: Row) {
        positions = Dictionary(row.columnNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// SQLite integers are signed 64-bit; a larger unsigned value (never a real size) is refused
/// instead of trapping in the conversion.
func sqliteInteger<T: FixedWidthInteger>(_ value: T, _ column: String) throws(StoreError) -> Int64 {
    guard let stored = Int64(exactly: value) else {
        throw .query(operation: "write \(column)", reason: "\(value) does not fit SQLite's 64-bit signed INTEGER")
    }
    return stored
}
