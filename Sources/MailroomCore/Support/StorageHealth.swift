import Foundation
import Synchronization

/// Whether the store can take work now: the disk holding the data has room, and the database
/// answers. The disk watcher and the store report into it; the API (new work answers 503), the
/// fetchers and the outbox sender (no round while the disk is full), `/readyz` and the status
/// page read it. Nothing is lost while work is refused: mail stays on its server, replies stay
/// queued, and everything resumes once the condition clears.
public final class StorageHealth: Sendable {
    private struct State {
        var diskFull: StoreUnavailable?
        var databaseUnreachable: StoreUnavailable?
    }

    private let state = Mutex(State())
    /// Read on every query: a flag saves the lock while all is well.
    private let databaseDown = Atomic<Bool>(false)

    public init() {}

    /// The disk is full (a watcher's check, or a write that found no room); nil: it has room again.
    public func setDiskFull(_ problem: StoreUnavailable?) {
        state.withLock { $0.diskFull = problem }
    }

    /// A query found the database unreachable.
    public func databaseFailed(_ problem: StoreUnavailable) {
        state.withLock { $0.databaseUnreachable = problem }
        databaseDown.store(true, ordering: .relaxed)
    }

    /// A query was answered.
    public func databaseAnswered() {
        guard databaseDown.load(ordering: .relaxed) else { return }
        databaseDown.store(false, ordering: .relaxed)
        state.withLock { $0.databaseUnreachable = nil }
    }

    /// Why new work that writes is refused now (the disk is full), or nil.
    public var writeRefusal: StoreUnavailable? { state.withLock { $0.diskFull } }

    /// Every condition that keeps the store from working, disk first.
    public var problems: [StoreUnavailable] {
        state.withLock { state in [state.diskFull, state.databaseUnreachable].compactMap { $0 } }
    }

    /// The status words `/readyz` and the status page show: "ready", "disk full", "database unreachable".
    public var statusWords: String { problems.first?.reason.rawValue ?? "ready" }
}
