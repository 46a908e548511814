import ClientTestSupport
import Foundation
import MailTransport
import NIOCore
import Testing
@testable import IMAPClient

/// Decodes everything, merging consecutive section chunks so chunkings compare equal.
func decodeAll(_ bytes: [UInt8], chunking: Chunking, options: IMAPParserOptions = IMAPParserOptions()) throws -> [IMAPResponseEvent] {
    var decoder = IMAPResponseDecoder(options: options)
    var events: [IMAPResponseEvent] = []
    for chunk in chunking.split(bytes) {
        decoder.append(ByteBuffer(bytes: chunk))
        while let event = try decoder.next() {
            if case .sectionBytes(var more) = event, case .sectionBytes(var last)? = events.last {
                last.writeBuffer(&more)
                events[events.count - 1] = .sectionBytes(last)
            } else {
                events.append(event)
            }
        }
    }
    #expect(decoder.bufferedByteCount == 0)
    return events
}

func fixture(_ name: String) throws -> [UInt8] {
    try fixtureBytes(#require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures")))
}

extension [IMAPResponseEvent] {
    var responses: [IMAPResponse] { compactMap { if case .response(let r) = $0 { return r } else { return nil } } }
    var untagged: [IMAPUntagged] { responses.compactMap { if case .untagged(let u) = $0 { return u } else { return nil } } }
    var sectionTexts: [String] { compactMap { if case .sectionBytes(let b) = $0 { return String(buffer: b) } else { return nil } } }
    var attributes: [IMAPFetchAttribute] { compactMap { if case .fetchAttribute(let a) = $0 { return a } else { return nil } } }
}

@Suite struct IMAPTranscriptTests {
    @Test(arguments: ["dovecot", "gmail", "outlook", "yahoo"], Chunking.allCases)
    func chunkingDoesNotChangeEvents(name: String, chunking: Chunking) throws {
        let bytes = try fixture(name)
        #expect(try decodeAll(bytes, chunking: .whole) == decodeAll(bytes, chunking: chunking))
    }

    @Test func dovecot() throws {
        let events = try decodeAll(try fixture("dovecot"), chunking: .random)
        guard case .status(.ok, let greeting)? = events.untagged.first, case .capability(let caps)? = greeting.code else {
            Issue.record("no greeting capabilities")
            return
        }
        #expect(caps.contains(.startTLS) && caps.contains(.saslIR) && caps.contains(.auth("PLAIN")))
        guard case .tagged("a1", .ok, let login)? = events.responses.dropFirst().first, case .capability(let after)? = login.code else {
            Issue.record("no login capabilities")
            return
        }
        #expect(after.contains(.uidPlus) && after.contains(.move) && after.contains(.idle))
        let lists = events.untagged.compactMap { if case .list(let l) = $0 { return l } else { return nil } }
        #expect(lists.map(\.name) == ["INBOX", "Sent", "Trash", "Kundendienst Änderungen"])
        #expect(lists[1].hasAttribute("\\Sent"))
        #expect(events.untagged.contains(.exists(3)))
        #expect(events.untagged.contains(.search([1, 2, 3])))
        #expect(events.untagged.contains(.status(.ok, IMAPResponseText(code: .uidValidity(1_700_000_000), text: "UIDs valid"))))
        #expect(events.sectionTexts == ["Subject: one\r\n\r\nHello\r\n", "Subject: three\r\n"])
        #expect(events.contains(.sectionStart(section: "BODY[]", size: 0)))
        #expect(events.contains(.sectionStart(section: "BODY[HEADER.FIELDS (SUBJECT FROM)]", size: 16)))
        #expect(events.attributes.contains(.flags(["\\Seen", "$Forwarded"])))
        #expect(events.attributes.contains(.internalDate("23-Nov-2026 12:00:00 +0000")))
        #expect(events.responses.contains(.tagged(tag: "a6", status: .ok, IMAPResponseText(code: .appendUID(uidValidity: 1_700_000_000, uid: 4), text: "Append completed (0.001 + 0.000 secs)."))))
        #expect(events.untagged.contains(.expunge(2)))
        #expect(events.responses.contains(.continuation("idling")))
        #expect(events.filter { $0 == .fetchEnd }.count == 4)
    }

    @Test func gmail() throws {
        let events = try decodeAll(try fixture("gmail"), chunking: .byteByByte)
        guard case .capability(let caps)? = events.untagged.dropFirst().first else {
            Issue.record("no capabilities")
            return
        }
        #expect(caps.contains(.auth("XOAUTH2")) && caps.contains(.auth("OAUTHBEARER")))
        #expect(events.responses.contains(.tagged(tag: "a2", status: .no, IMAPResponseText(code: .authenticationFailed, text: "Invalid credentials (Failure)"))))
        #expect(events.responses.contains { if case .continuation(let t) = $0 { return t.hasPrefix("eyJ") } else { return false } })
        let lists = events.untagged.compactMap { if case .list(let l) = $0 { return l } else { return nil } }
        #expect(lists.first { $0.name == "[Gmail]" }?.isSelectable == false)
        #expect(lists.first { $0.hasAttribute("\\Sent") }?.name == "[Gmail]/Sent Mail")
        #expect(events.attributes.contains(.uid(98760)))
        #expect(events.attributes.contains(.gmailMessageID(1_700_000_000_000_000_001)))
        #expect(events.attributes.contains { if case .other("X-GM-LABELS", _) = $0 { return true } else { return false } })
        #expect(events.sectionTexts == ["Hello Gmail\r\n"])
    }

    @Test func outlookUIDAfterBody() throws {
        let events = try decodeAll(try fixture("outlook"), chunking: .random)
        #expect(events.untagged.first == .status(.ok, IMAPResponseText(code: nil, text: "The Microsoft Exchange IMAP4 service is ready. [QQBNADAAUABSADAAMQBDAEEAMAAxADIAMwAuAGUAdQByAHAAcgBkADAAMQAuAHAAcgBvAGQALgBlAHgAYwBoAGEAbgBnAGUAbABhAGIAcwAuAGMAbwBtAA==]")))
        #expect(events.sectionTexts == ["Outlook!\r\n"])
        #expect(events.attributes == [.uid(1995), .flags(["\\Seen"])])
        #expect(events.untagged.contains(.search([1990, 1995, 2000])))
        #expect(events.untagged.contains { if case .status(.bye, _) = $0 { return true } else { return false } })
    }

    @Test func yahoo() throws {
        let events = try decodeAll(try fixture("yahoo"), chunking: .whole)
        #expect(events.untagged.contains(.id(["name": "Yahoo Mail", "vendor": "Yahoo"])))
        #expect(events.untagged.contains(.search([])))
        #expect(events.untagged.contains(.exists(0)))
    }
}

@Suite struct IMAPDecoderLimitTests {
    @Test func incompleteIsNotAnError() throws {
        var decoder = IMAPResponseDecoder()
        decoder.append(ByteBuffer(string: "* 1 FETCH (UID 7 BODY[] {100}\r\nonly part"))
        #expect(try decoder.next() == .fetchStart(sequence: 1))
        #expect(try decoder.next() == .fetchAttribute(.uid(7)))
        #expect(try decoder.next() == .sectionStart(section: "BODY[]", size: 100))
        #expect(try decoder.next() == .sectionBytes(ByteBuffer(string: "only part")))
        #expect(try decoder.next() == nil)
    }

    @Test(arguments: [
        "* OK [UIDVALIDITY abc] x\r\n",
        "a1 MAYBE done\r\n",
        "* 1 FETCH (UID 0)\r\n",
        "* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n",
        "* FLAGS (\\Seen\r\n",
        "* 99999999999999999999999 EXISTS\r\n",
        "\u{0}\u{1}\r\n",
    ])
    func invalidInputIsAProtocolError(text: String) {
        #expect(throws: MailTransportError.self) { _ = try decodeAll(Array(text.utf8), chunking: .whole) }
    }

    @Test func overlongLineHitsTheLimit() {
        var options = IMAPParserOptions()
        options.maxLineLength = 1000
        options.maxInlineLiteralSize = 1000
        let error = #expect(throws: MailTransportError.self) {
            _ = try decodeAll(Array(("* OK " + String(repeating: "x", count: 5000)).utf8), chunking: .random, options: options)
        }
        #expect(error?.kind == .limitExceeded)
    }

    @Test func hugeLiteralIsRefusedNotAllocated() {
        var options = IMAPParserOptions()
        options.maxStreamedLiteralSize = 1000
        let error = #expect(throws: MailTransportError.self) {
            _ = try decodeAll(Array("* 1 FETCH (BODY[] {99999999999}\r\n".utf8), chunking: .whole, options: options)
        }
        #expect(error?.kind == .limitExceeded)
        let inline = #expect(throws: MailTransportError.self) {
            _ = try decodeAll(Array("* LIST () \"/\" {99999999}\r\n".utf8), chunking: .whole)
        }
        #expect(inline?.kind == .limitExceeded)
    }

    @Test func deepNestingHitsTheLimit() {
        let nested = String(repeating: "(", count: 100) + String(repeating: ")", count: 100)
        let error = #expect(throws: MailTransportError.self) {
            _ = try decodeAll(Array("* 1 FETCH (BODYSTRUCTURE \(nested))\r\n".utf8), chunking: .whole)
        }
        #expect(error?.kind == .limitExceeded)
    }

    @Test func bareLFAndTrailingSpaceAreTolerated() throws {
        let events = try decodeAll(Array("* SEARCH 1 2 \n* 5 EXISTS\na1 OK done\n".utf8), chunking: .byteByByte)
        #expect(events.untagged == [.search([1, 2]), .exists(5)])
    }
}

@Suite struct IMAPValueTests {
    @Test func uidSets() {
        #expect(IMAPUIDSet([5, 1, 2, 3, 9, 10]).description == "1:3,5,9:10")
        #expect(IMAPUIDSet.from(42).description == "42:*")
        #expect(IMAPUIDSet([1, 2, 3, 4, 5]).batches(of: 2).map(\.description) == ["1:2", "3:4", "5"])
    }

    @Test func dates() {
        #expect(IMAPDate(secondsSince1970: 0).description == "1-Jan-1970")
        #expect(IMAPDate(secondsSince1970: 1_795_435_949).description == "23-Nov-2026")
        #expect(IMAPDate(secondsSince1970: 951_782_400).description == "29-Feb-2000")
    }

    @Test func searchKeys() {
        let key = IMAPSearchKey.and([.uid(.from(100)), .since(IMAPDate(year: 2026, month: 11, day: 1)), .not(.deleted)])
        #expect(key.text == "UID 100:* SINCE 1-Nov-2026 NOT DELETED")
        #expect(IMAPSearchKey.or(.unseen, .header("Subject", "a \"b\"")).text == "OR UNSEEN HEADER \"Subject\" \"a \\\"b\\\"\"")
    }

    @Test func mailboxNames() {
        #expect(IMAPMailboxName.encode("Kundendienst Änderungen") == "Kundendienst &AMQ-nderungen")
        #expect(IMAPMailboxName.decode("Kundendienst &AMQ-nderungen") == "Kundendienst Änderungen")
        #expect(IMAPMailboxName.decode("R&AOk-sum&AOk-") == "Résumé")
        #expect(IMAPMailboxName.encode("A&B") == "A&-B")
        #expect(IMAPMailboxName.decode("A&-B") == "A&B")
        #expect(IMAPMailboxName.decode(IMAPMailboxName.encode("日本語")) == "日本語")
    }

    @Test func idleStateMachine() {
        var machine = IMAPIdleStateMachine()
        let t0 = ContinuousClock.Instant.now
        #expect(machine.nextAction(now: t0) == .startIdle)
        machine.idleSent(tag: "M5", reissueAfter: .seconds(29 * 60), now: t0)
        #expect(machine.isWaitingForContinuation)
        machine.continuationReceived()
        #expect(machine.nextAction(now: t0 + .seconds(60)) == .wait(.seconds(28 * 60)))
        #expect(machine.nextAction(now: t0 + .seconds(29 * 60)) == .sendDone)
        #expect(machine.doneNeeded() == "M5")
        #expect(machine.doneNeeded() == nil)
        machine.taggedReceived(tag: "M4")
        #expect(machine.isActive)
        machine.taggedReceived(tag: "M5")
        #expect(!machine.isActive)
        #expect(machine.nextAction(now: t0 + .seconds(29 * 60)) == .startIdle)
    }
}
