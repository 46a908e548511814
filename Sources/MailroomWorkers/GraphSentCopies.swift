import ExchangeClient
import Foundation
import Logging
import MailMessage

/// What happens to the copy Graph keeps in Sent Items after a MIME `sendMail` (Graph has no switch
/// for MIME sends: `saveToSentItems` is for JSON messages only). The account's sent folder decides:
/// `sentitems` keeps it; no sent folder deletes it for good; another folder moves it there.
public enum GraphSentCopyPolicy: Sendable, Equatable {
    case keep
    case delete
    case move(folder: String)

    public init(sentFolder: String?) {
        guard let folder = sentFolder?.trimmingCharacters(in: .whitespaces), !folder.isEmpty else {
            self = .delete
            return
        }
        self = ["sentitems", "sent items"].contains(folder.lowercased()) ? .keep : .move(folder: folder)
    }
}

/// Deletes or moves Sent Items copies after the send, one at a time in the background, so the
/// outbox never waits for them. Graph saves the copy a moment after it accepted the message, so a
/// copy not found yet is looked for again (after 1, 2, 4, 8 and 16 s) before it is given up with
/// a log line. A restart loses what was pending: those copies stay in Sent Items.
public actor GraphSentCopies {
    public static let shared = GraphSentCopies()

    struct Job: Sendable {
        var client: GraphClient
        var internetMessageId: String
        var policy: GraphSentCopyPolicy
        var attempt: Int
        var due: ContinuousClock.Instant
    }

    private var jobs: [Job] = []
    private var running = false
    private let logger = Logger(label: "mailroom.graph.sent-copies")
    /// Copies handled (deleted or moved); for tests and metrics.
    public private(set) var handled = 0

    /// Queues the copy of a sent message (`raw`) for the policy; `keep` does nothing.
    public func handle(raw: [UInt8], client: GraphClient, policy: GraphSentCopyPolicy) {
        guard policy != .keep, let id = MIMEMessage(parsing: raw).messageID else { return }
        jobs.append(Job(client: client, internetMessageId: "<\(id)>", policy: policy, attempt: 0, due: .now))
        if !running {
            running = true
            Task { await self.work() }
        }
    }

    private func work() async {
        while let index = jobs.indices.min(by: { jobs[$0].due < jobs[$1].due }) {
            let job = jobs.remove(at: index)
            if job.due > .now { try? await Task.sleep(until: job.due) }
            do {
                if try await Self.run(job) {
                    handled += 1
                } else if job.attempt < 5 {
                    var again = job
                    again.attempt += 1
                    again.due = .now + .seconds(1 << job.attempt)
                    jobs.append(again)
                } else {
                    logger.notice("Graph's Sent Items copy was not found; it stays there", metadata: ["mailbox": "\(job.client.mailbox)"])
                }
            } catch {
                logger.warning("Graph's Sent Items copy could not be removed or moved",
                               metadata: ["mailbox": "\(job.client.mailbox)", "error": "\(error)"])
            }
        }
        running = false
    }

    /// Whether the copy was found (and handled).
    private static func run(_ job: Job) async throws -> Bool {
        guard let id = try await job.client.messageId(internetMessageId: job.internetMessageId, inFolder: "sentitems") else { return false }
        switch job.policy {
        case .keep: break
        case .delete: try await job.client.permanentlyDelete(messageId: id)
        case .move(let folder): try await job.client.move(messageId: id, toFolder: try await job.client.folderId(folder))
        }
        return true
    }
}
