/// How far an account's fetching got in an IMAP folder: the folder's UIDVALIDITY and the highest
/// UID committed under it.
public struct IMAPPosition: Sendable, Equatable {
    public let uidValidity: UInt32
    public let highWater: UInt32

    public init(uidValidity: UInt32, highWater: UInt32) {
        self.uidValidity = uidValidity
        self.highWater = highWater
    }
}
