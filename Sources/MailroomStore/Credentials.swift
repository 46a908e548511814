import Crypto
import _CryptoExtras
import Foundation
import MailMessage
import MailroomCore

/// Encrypts stored credentials with AES-GCM under a key that is never in the database.
public struct SecretBox: Sendable {
    // Kept as bytes because `SymmetricKey` is not `Sendable`.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    private static let prefix = "v1:"

    public init(key: SymmetricKey) { self.keyBytes = key.withUnsafeBytes { Array($0) } }

    /// A box with a new random key (tests, and the first start before the key file exists).
    public static func random() -> SecretBox { SecretBox(key: SymmetricKey(size: .bits256)) }

    /// The key from `MAILROOM_SECRET_KEY` (32 bytes as base64 or hex, or any passphrase of
    /// 16 characters or more, stretched with HKDF), else from `secret.key` in the data directory,
    /// created with mode 0600 on first start.
    public static func load(environmentValue: String?, dataDirectory: String) throws -> SecretBox {
        if let value = environmentValue?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
            return SecretBox(key: try keyFromText(value, origin: "MAILROOM_SECRET_KEY"))
        }
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("secret.key").path
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return SecretBox(key: try keyFromText(text.trimmingCharacters(in: .whitespacesAndNewlines), origin: path))
        }
        try fileManager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let key = SymmetricKey(size: .bits256)
        let encoded = key.withUnsafeBytes { Data($0).base64EncodedString() }
        // Created with 0600 from the start, so the key is never readable by others even briefly.
        guard fileManager.createFile(atPath: path, contents: Data((encoded + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw SecretKeyError(message: "cannot create the secret key file \(path); set MAILROOM_SECRET_KEY or make the data directory writable")
        }
        return SecretBox(key: key)
    }

    static func keyFromText(_ text: String, origin: String) throws -> SymmetricKey {
        if let data = Data(base64Encoded: text), data.count == 32 { return SymmetricKey(data: data) }
        if text.count == 64, let data = Data(hexString: text) { return SymmetricKey(data: data) }
        guard text.count >= 16 else {
            throw SecretKeyError(message: "the secret key from \(origin) is too short: give 32 bytes as base64 or hex, or a passphrase of at least 16 characters")
        }
        return HKDF<Crypto.SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(text.utf8)),
                                      info: Data("mailroom secret key v1".utf8), outputByteCount: 32)
    }

    public func seal(_ plaintext: Data) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: key)
        guard let combined = box.combined else { throw SecretKeyError(message: "encryption failed") }
        return Self.prefix + combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> Data {
        guard sealed.hasPrefix(Self.prefix), let combined = Data(base64Encoded: String(sealed.dropFirst(Self.prefix.count))) else {
            throw SecretKeyError(message: "stored credentials are not in a format this version understands")
        }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: key)
        } catch {
            throw SecretKeyError(message: "stored credentials cannot be decrypted: the secret key is not the one they were saved with (check MAILROOM_SECRET_KEY or secret.key)")
        }
    }
}

public struct SecretKeyError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Slow, salted password hashes (scrypt), in a self-describing string.
public enum PasswordHasher {
    static let cost = (n: 16_384, r: 8, p: 1)

    public static func hash(_ password: Secret) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255, using: &random) }
        let derived = try derive(password.revealed, salt: salt, n: cost.n, r: cost.r, p: cost.p)
        return "scrypt$\(cost.n)$\(cost.r)$\(cost.p)$\(Data(salt).base64EncodedString())$\(derived.base64EncodedString())"
    }

    public static func verify(_ password: Secret, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              n <= 1 << 20, r <= 32, p <= 16,
              let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
              let derived = try? derive(password.revealed, salt: Array(salt), n: n, r: r, p: p)
        else { return false }
        return constantTimeEquals(Array(derived), Array(expected))
    }

    private static func derive(_ password: String, salt: [UInt8], n: Int, r: Int, p: Int) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p)
        return key.withUnsafeBytes { Data($0) }
    }
}

/// API tokens: random, shown once, stored as a SHA-256 hash (they carry enough entropy not to need a slow hash).
public enum TokenHasher {
    public static func newToken() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let text = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "mr_" + text
    }

    public static func hash(_ token: String) -> String {
        MailMessage.SHA256.hex(Crypto.SHA256.hash(data: Data(token.utf8)))
    }
}

extension Data {
    init?(hexString: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hexString.count / 2)
        var iterator = hexString.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.init(bytes)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: return c - 48
    case 65...70: return c - 55
    case 97...102: return c - 87
    default: return nil
    }
}
