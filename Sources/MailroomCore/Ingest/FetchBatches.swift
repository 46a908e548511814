/// How many fetched messages go into one batch, committed in one transaction.
///
/// Fewer, larger transactions write far less: every transaction rewrites each index page it
/// touches, and most of a message's index entries (Message-ID, content hash, addresses) land on a
/// page of their own. But a batch is held in memory while it is parsed and committed, so it is
/// bounded by bytes as well as by count. A fetcher adds messages (IMAP: a FETCH command of
/// at most `stepCount` UIDs at a time) for as long as `nextStep` says; the first batch is one step, so the
/// first tickets of a large backlog appear soon.
public struct FetchBatchPlan: Sendable, Hashable {
    /// Messages added at a time (IMAP: UIDs per FETCH command), and the size of the first batch.
    public var stepCount: Int
    /// At most this many messages in a batch.
    public var maxCount: Int
    /// No more messages are added once a batch holds this many bytes.
    public var maxBytes: Int
    /// The most one message may take in memory (nil: see ``messageLimit(maxMessageBytes:)``).
    public var messageLimit: Int?

    public init(stepCount: Int = 100, maxCount: Int = 500, maxBytes: Int = 16 << 20, messageLimit: Int? = nil) {
        self.stepCount = max(1, stepCount)
        self.maxCount = max(self.stepCount, maxCount)
        self.maxBytes = max(1, maxBytes)
        self.messageLimit = messageLimit.map { max(1, $0) }
    }

    /// The most a fetcher takes of one message into memory: twice the account's maximum (larger
    /// mail is kept raw in the quarantine up to this) and at least 64 MiB. A larger message is
    /// listed in the quarantine without its bytes and left on the server.
    public func messageLimit(maxMessageBytes: Int) -> Int {
        messageLimit ?? max(maxMessageBytes * 2, 64 << 20)
    }

    /// How many messages a batch that holds `count` messages of `bytes` bytes in all takes in its
    /// next step; 0 when it is complete.
    public func nextStep(first: Bool, count: Int, bytes: Int) -> Int {
        let limit = first ? stepCount : maxCount
        guard count < limit, bytes < maxBytes else { return 0 }
        return min(stepCount, limit - count)
    }
}
