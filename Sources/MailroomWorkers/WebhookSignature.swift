import Crypto
import Foundation
import MailMessage
import MailroomCore

/// `X-Mailroom-Signature: t=UNIX_SECONDS,v1=HEX[,v1=HEX]` (DESIGN.md): HEX is HMAC-SHA256 keyed with
/// the endpoint's secret (its UTF-8 bytes) over `t + "." + body`. During a rotation's overlap there is
/// one `v1` per secret, the current first, so a receiver holding either secret accepts the call. The
/// timestamp is signed too, so a receiver that refuses old ones refuses a replayed delivery.
public enum WebhookSignature {
    public static let header = "X-Mailroom-Signature"
    /// What receivers are told to accept (README): five minutes either way.
    public static let defaultTolerance: TimeInterval = 300

    public static func sign(body: some DataProtocol, timestamp: Int64, secrets: [Secret]) -> String {
        (["t=\(timestamp)"] + secrets.map { "v1=" + hmac(body: body, timestamp: timestamp, secret: $0) }).joined(separator: ",")
    }

    static func hmac(body: some DataProtocol, timestamp: Int64, secret: Secret) -> String {
        var code = HMAC<Crypto.SHA256>(key: SymmetricKey(data: Data(secret.revealed.utf8)))
        code.update(data: Data("\(timestamp).".utf8))
        code.update(data: body)
        return MailMessage.SHA256.hex(code.finalize())
    }

    public enum Verdict: Sendable, Equatable {
        case valid
        /// Signed, but longer ago (or further ahead) than the tolerance: a replay, or a clock far off.
        case outsideTolerance
        case mismatch
        case malformed
    }

    /// What a receiver does; Mailroom uses it only in tests, as the README's example does in Python.
    public static func verify(header: String, body: some DataProtocol, secret: Secret, now: Date = Date(),
                              tolerance: TimeInterval = defaultTolerance) -> Verdict {
        var timestamp: Int64?
        var signatures: [String] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { return .malformed }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": signatures.append(pair[1].lowercased())
            default: continue
            }
        }
        guard let timestamp, !signatures.isEmpty else { return .malformed }
        let expected = hmac(body: body, timestamp: timestamp, secret: secret)
        guard signatures.contains(where: { constantTimeEquals($0, expected) }) else { return .mismatch }
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else { return .outsideTolerance }
        return .valid
    }
}
