import Foundation
import SQLKit
import SQLiteKit
import Synchronization

/// A statement whose text never changes, for the statements that run for every message.
///
/// SQLKit builds a statement's text from its interpolation every time it runs (an expression per
/// fragment, a placeholder string per value): for the ingest's inserts that cost about as much as
/// SQLite's own work. A fixed statement has its SQLite text made once; its values go to SQLite
/// without conversion. On PostgreSQL it goes through SQLKit like any other statement.
///
/// The text marks each value with `?`, in the order of the arguments; it must contain no other
/// question mark.
struct FixedSQL: Sendable {
    /// The text around the placeholders: one more piece than there are values.
    let pieces: [String]
    /// The text as SQLite reads it (`?` numbers the values in order).
    let sqlite: String
    /// Names the statement in a connection's cache of compiled statements.
    let number: Int

    private static let made = Atomic<Int>(0)

    init(_ text: String) {
        pieces = text.split(separator: "?", omittingEmptySubsequences: false).map(String.init)
        sqlite = text
        number = Self.made.add(1, ordering: .relaxed).newValue
    }

    var argumentCount: Int { pieces.count - 1 }
}

/// A value bound to a ``FixedSQL`` statement. Optional values carry their type, which PostgreSQL needs for a NULL.
enum SQLArgument: Sendable {
    case text(String?)
    case integer(Int64?)
    case bool(Bool)
    case blob([UInt8])

    static func int(_ value: Int) -> SQLArgument { .integer(Int64(value)) }

    var sqliteBind: SQLiteHandle.Bind {
        switch self {
        case .text(let value?): return .value(.text(value))
        case .integer(let value?): return .value(.integer(Int(value)))
        case .text(nil), .integer(nil): return .value(.null)
        case .bool(let value): return .value(.integer(value ? 1 : 0))
        case .blob(let bytes): return .bytes(bytes)
        }
    }

    var encodable: any Encodable & Sendable {
        switch self {
        case .text(let value): return value
        case .integer(let value): return value
        case .bool(let value): return value
        case .blob(let bytes): return Data(bytes)
        }
    }
}

/// A fixed statement with its values, as an SQLKit expression (the PostgreSQL path).
private struct FixedSQLExpression: SQLExpression {
    let statement: FixedSQL
    let arguments: [SQLArgument]

    func serialize(to serializer: inout SQLSerializer) {
        for (index, piece) in statement.pieces.enumerated() {
            serializer.write(piece)
            if index < arguments.count { serializer.write(bind: arguments[index].encodable) }
        }
    }
}

extension SQLDatabase {
    /// Runs a fixed statement and returns its rows.
    func all(_ statement: FixedSQL, _ arguments: SQLArgument...) async throws -> [any SQLRow] {
        var rows: [any SQLRow] = []
        try await execute(statement, arguments) { rows.append($0) }
        return rows
    }

    /// Runs a fixed statement and returns its first row.
    func first(_ statement: FixedSQL, _ arguments: SQLArgument...) async throws -> (any SQLRow)? {
        var first: (any SQLRow)?
        try await execute(statement, arguments) { row in if first == nil { first = row } }
        return first
    }

    /// Runs a fixed statement, ignoring any rows.
    func run(_ statement: FixedSQL, _ arguments: SQLArgument...) async throws {
        try await execute(statement, arguments) { _ in }
    }

    /// Runs a fixed statement whose values were gathered in a list, ignoring any rows.
    func run(_ statement: FixedSQL, _ arguments: [SQLArgument]) async throws {
        try await execute(statement, arguments) { _ in }
    }

    private func execute(_ statement: FixedSQL, _ arguments: [SQLArgument], onRow: (any SQLRow) -> Void) async throws {
        precondition(arguments.count == statement.argumentCount, "\(statement.sqlite) takes \(statement.argumentCount) values")
        if let sqlite = self as? DirectSQLiteDatabase {
            try await sqlite.run(statement.sqlite, key: .fixed(statement.number), arguments.map(\.sqliteBind), onRow: onRow)
            return
        }
        let rows = Mutex<[any SQLRow]>([])
        try await execute(sql: FixedSQLExpression(statement: statement, arguments: arguments)) { row in rows.withLock { $0.append(row) } }
        for row in rows.withLock({ $0 }) { onRow(row) }
    }
}
