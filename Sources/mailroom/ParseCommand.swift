import ArgumentParser
import Foundation
import MailMessage
import MailroomApp

/// `mailroom parse FILE|-`: prints one JSON object describing a message (DESIGN.md, "Stable
/// interfaces"). A malformed message still prints, with `warnings`; only an unreadable input
/// fails.
struct ParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse an RFC 5322/MIME message and print it as JSON.",
        discussion: "Reads FILE (or standard input for -) and prints messageId, addresses, decoded subject and bodies, attachments with SHA-256, delivery status and parse warnings."
    )

    @Argument(help: "The message file (.eml), or - for standard input.")
    var file: String

    @Flag(name: .long, help: "Print the JSON on one line.")
    var compact = false

    func run() throws {
        let bytes: [UInt8]
        do {
            bytes = file == "-" ? try MessageFile.readStandardInput() : try MessageFile.read(path: file)
        } catch let error as MailMessageError {
            FileHandle.standardError.write(Data("mailroom parse: \(error)\n".utf8))
            throw ExitCode(66)
        }
        let summary = MailroomApplication.summarize(bytes)
        var output = try summary.jsonData(pretty: !compact)
        output.append(0x0A)
        FileHandle.standardOutput.write(output)
    }
}
