import Foundation
import Logging
import MailroomCore
import ServiceLifecycle

/// Watches the free space of the file system holding the data directory and reports "disk full"
/// to ``StorageHealth`` while it is below `minimumFreeBytes`, so that new work is refused before
/// a write can fail halfway (SQLite and the packs survive a failed write, but a reply sent whose
/// outcome cannot be recorded would go out twice). Space counts as back once it is a quarter
/// above the minimum, so that a disk hovering at the edge does not flap.
public struct DiskSpaceWatcher: Service {
    let path: String
    let minimumFreeBytes: Int64
    let health: StorageHealth
    let logger: Logger
    private let rounds: PeriodicWork<ContinuousClock>
    /// The free bytes, by path (a test gives its own).
    let freeBytes: @Sendable (String) -> Int64?

    public init(path: String, minimumFreeBytes: Int64, health: StorageHealth, logger: Logger, interval: Duration = .seconds(2),
                freeBytes: @escaping @Sendable (String) -> Int64? = DiskSpaceWatcher.freeBytes) {
        self.path = path
        self.minimumFreeBytes = max(0, minimumFreeBytes)
        self.health = health
        self.logger = logger
        self.freeBytes = freeBytes
        rounds = PeriodicWork(every: interval)
    }

    public func run() async throws {
        await rounds.run { check() }
    }

    /// One look at the free space; returns whether the disk counts as full now.
    @discardableResult
    public func check() -> Bool {
        guard let free = freeBytes(path) else { return health.writeRefusal != nil }
        let wasFull = health.writeRefusal != nil
        let full = wasFull ? free < minimumFreeBytes + minimumFreeBytes / 4 : free < minimumFreeBytes
        if full {
            let problem = StoreUnavailable(.diskFull, detail: "\(free >> 20) MB free on the file system of \(path), under the minimum of \(minimumFreeBytes >> 20) MB")
            if !wasFull {
                logger.critical("disk full: new work is refused until space is freed", metadata: [
                    "path": "\(path)", "freeMB": "\(free >> 20)", "minimumMB": "\(minimumFreeBytes >> 20)",
                ])
            }
            health.setDiskFull(problem)
        } else if wasFull {
            logger.notice("disk space is back: work resumes", metadata: ["path": "\(path)", "freeMB": "\(free >> 20)"])
            health.setDiskFull(nil)
        }
        return full
    }

    /// Free bytes for an unprivileged writer (root may use the reserved blocks too, but an
    /// installation should not count on them).
    public static func freeBytes(_ path: String) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
              let free = attributes[.systemFreeSize] as? NSNumber else { return nil }
        return free.int64Value
    }
}
