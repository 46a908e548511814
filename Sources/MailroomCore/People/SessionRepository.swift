import Foundation

/// Sign-in sessions of the web application.
public protocol SessionRepository: Sendable {
    func create(_ session: WebSession) async throws
    /// The session and its active user, if it has neither expired nor idled past `idleCutoff`.
    func find(idHash: String, now: Date, idleCutoff: Date) async throws -> (WebSession, User)?
    func touch(idHash: String, at date: Date) async throws
    func delete(idHash: String) async throws
    /// Signs the user out everywhere.
    func deleteAll(userId: String) async throws
    /// Removes expired and idle sessions; how many.
    func deleteExpired(now: Date, idleCutoff: Date) async throws -> Int
    func count(userId: String) async throws -> Int
}
