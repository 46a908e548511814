import Foundation
import MailroomCore
import NIOCore
import PostgresNIO
#if canImport(Glibc)
import Glibc
#endif

extension MailroomDatabase {
    /// The driver's error, or ``StoreUnavailable`` when it says the database cannot be reached or
    /// the disk is full: conditions of the installation, not of the request, which callers answer
    /// with "try again later" rather than as a failure of their own.
    static func translated(_ error: any Error) -> any Error {
        guard let reason = unavailability(of: error) else { return error }
        return StoreUnavailable(reason, detail: Self.detail(of: error))
    }

    /// Reports a condition the error shows to ``health``, and returns the error.
    func noted(_ error: any Error) -> any Error {
        guard let problem = error as? StoreUnavailable else {
            health.databaseAnswered()
            return error
        }
        switch problem.reason {
        case .databaseUnreachable: health.databaseFailed(problem)
        case .diskFull: health.setDiskFull(problem)
        }
        return error
    }

    static func unavailability(of error: any Error) -> StoreUnavailable.Reason? {
        switch error {
        case let error as StoreUnavailable:
            return error.reason
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
                return .databaseUnreachable
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                // 53100 disk_full; class 08 connection exceptions, 57P01-03 the server shutting down
                // or starting up, 53300 too many connections.
                if state == "53100" { return .diskFull }
                if state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state) { return .databaseUnreachable }
                return nil
            default:
                return nil
            }
        case let error as DatabaseError:
            // SQLITE_FULL (13): SQLite's answer to a write that found no space.
            guard let code = error.sqliteCode, code & 0xff == 13 else { return nil }
            return .diskFull
        case let error as BlobPackError:
            if case .io(_, let code) = error, code == ENOSPC || code == EDQUOT { return .diskFull }
            return nil
        case is IOError, is ChannelError:
            return .databaseUnreachable
        default:
            // The pool's own error type (its module is not a product PostgresKit exports): its
            // circuit breaker opens when connections keep failing.
            return String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError") ? .databaseUnreachable : nil
        }
    }

    /// For the log: PSQLError's description hides the server's words, which name the cause.
    private static func detail(of error: any Error) -> String {
        if let error = error as? PSQLError {
            let state = error.serverInfo?[.sqlState].map { " \($0)" } ?? ""
            let message = error.serverInfo?[.message].map { ": \($0)" } ?? ""
            return "PostgreSQL \(error.code)\(state)\(message)"
        }
        return "\(error)"
    }
}
