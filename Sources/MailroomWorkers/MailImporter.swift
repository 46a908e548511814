import Foundation
import MailroomCore

/// `mailroom import`: .eml files, a Maildir or an mbox, through the same pipeline as fetched mail.
/// Importing the same file twice adds nothing: content hashes recognise what is already there.
public struct MailImporter: Sendable {
    let pipeline: IngestPipeline

    public init(pipeline: IngestPipeline) { self.pipeline = pipeline }

    public struct Summary: Codable, Sendable, Equatable {
        public var created = 0
        public var appended = 0
        public var duplicates = 0
        public var skipped = 0
        public var quarantined = 0
        public var files = 0

        mutating func count(_ outcome: IngestOutcome) {
            switch outcome {
            case .created: created += 1
            case .appended, .bounce: appended += 1
            case .duplicate: duplicates += 1
            case .skipped: skipped += 1
            case .quarantined: quarantined += 1
            }
        }
    }

    public struct ImportError: Error, CustomStringConvertible {
        public let description: String
    }

    public func importPath(_ path: String, into account: Account) async throws -> Summary {
        var summary = Summary()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImportError(description: "\(path) does not exist")
        }
        if isDirectory.boolValue {
            for file in try Self.messageFiles(in: path) {
                try await importFile(file, into: account, summary: &summary)
            }
        } else {
            try await importFile(path, into: account, summary: &summary)
        }
        return summary
    }

    private func importFile(_ path: String, into account: Account, summary: inout Summary) async throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError(description: "cannot read \(path)") }
        summary.files += 1
        let bytes = [UInt8](data)
        if Self.isMbox(bytes) {
            let messages = Self.splitMbox(bytes).enumerated().map { index, message in
                IngestPipeline.Inbound(raw: message, position: .file("\(path)#\(index + 1)"), source: "\(path) message \(index + 1)")
            }
            // In batches, as fetched mail: one transaction per batch, its messages parsed in parallel.
            for start in stride(from: 0, to: messages.count, by: 100) {
                let result = try await pipeline.processBatch(Array(messages[start..<min(start + 100, messages.count)]), account: account)
                result.outcomes.forEach { summary.count($0) }
                if let failure = result.failure { throw failure }
            }
        } else {
            summary.count(try await pipeline.process(bytes, account: account, position: .file(path), source: path))
        }
    }

    /// A Maildir's cur/ and new/ (tmp/ holds unfinished deliveries), or every regular file of a plain directory.
    static func messageFiles(in directory: String) throws -> [String] {
        let fileManager = FileManager.default
        let maildirParts = ["cur", "new"].map { (directory as NSString).appendingPathComponent($0) }
        let folders = maildirParts.filter { fileManager.fileExists(atPath: $0) }
        var files: [String] = []
        for folder in folders.isEmpty ? [directory] : folders {
            for name in try fileManager.contentsOfDirectory(atPath: folder).sorted() where !name.hasPrefix(".") {
                let path = (folder as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                if fileManager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(path) }
            }
        }
        return files
    }

    static func isMbox(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: Array("From ".utf8))
    }

    /// Splits an mbox on its "From " separator lines and undoes the ">From " quoting (mboxrd and mboxo).
    /// Writers that do not quote leave body lines like "From the office we..." as they were, so a
    /// separator must also follow a blank line (or start the file) and look like one (``isSeparator(_:)``).
    static func splitMbox(_ bytes: [UInt8]) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var current: [UInt8] = []
        var started = false
        var lineStart = 0
        var afterBlankLine = true
        let from = Array("From ".utf8)
        func finish() {
            if started {
                // The blank line before a separator (or at the end of the file) belongs to the format,
                // not the message; a last message without one keeps its final line break.
                if current.suffix(2) == [10, 10] {
                    current.removeLast()
                } else if current.suffix(4) == [13, 10, 13, 10] {
                    current.removeLast(2)
                }
                messages.append(current)
            }
            current = []
        }
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 10 { lineEnd += 1 }
            let line = bytes[lineStart..<min(lineEnd + 1, bytes.count)]
            defer { afterBlankLine = line.allSatisfy { $0 == 10 || $0 == 13 } }
            if line.starts(with: from), afterBlankLine, !started || Self.isSeparator(line) {
                finish()
                started = true
            } else if started {
                var quoted = line.drop(while: { $0 == 62 })
                if quoted.count < line.count, quoted.starts(with: from) {
                    quoted = line.dropFirst()
                    current.append(contentsOf: quoted)
                } else {
                    current.append(contentsOf: line)
                }
            }
            lineStart = lineEnd + 1
        }
        finish()
        return messages
    }

    /// Whether a "From " line is an mbox separator ("From sender Mon Nov 23 10:00:00 2026", also
    /// with a zone or in other date styles): it carries a time (hh:mm) and a four-digit year
    /// after the sender. Prose that happens to start with "From " rarely has both.
    static func isSeparator(_ line: ArraySlice<UInt8>) -> Bool {
        let words = line.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }).dropFirst(2)
        func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
        let hasTime = words.contains { word in
            let parts = word.split(separator: 58, omittingEmptySubsequences: false)
            return parts.count >= 2 && parts.count <= 3 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(isDigit) }
        }
        let hasYear = words.contains { word in
            let digits = word.filter(isDigit)
            return digits.count == 4 && word.count == 4 && (digits.starts(with: [49, 57]) || digits.starts(with: [50, 48]))
        }
        return hasTime && hasYear
    }
}
