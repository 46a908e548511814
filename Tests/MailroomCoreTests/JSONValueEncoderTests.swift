import Foundation
import MailroomCore
import Testing

/// `JSONValue(encoding:)` builds the value directly; it must give exactly what Mailroom's JSON
/// encoder followed by decoding the text gives (the way it was built before, kept here as the
/// reference), except that an absent optional is `null` where JSONEncoder leaves its key out.
@Suite struct JSONValueEncoderTests {
    func viaText(_ value: some Encodable) throws -> JSONValue {
        try JSONCoding.decoder.decode(JSONValue.self, from: JSONCoding.encoder.encode(value))
    }

    /// The value with every object member that is null left out, as JSONEncoder leaves out absent optionals.
    func withoutNullMembers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): .object(members.filter { $0.value != .null }.mapValues(withoutNullMembers))
        case .array(let items): .array(items.map(withoutNullMembers))
        default: value
        }
    }

    func expectSame(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(withoutNullMembers(try JSONValue(encoding: value)) == withoutNullMembers(try viaText(value)), sourceLocation: sourceLocation)
    }

    @Test func absentOptionalsAreNullNotMissing() throws {
        let value = try JSONValue(encoding: Everything())
        #expect(value["missing"] == .null)
        #expect(value["present"] == .string("here"))
        #expect(try JSONValue(encoding: Shape.label("x", size: nil))["label"]?["size"] == .null)
        let ticket = try JSONValue(encoding: Ticket(accountId: "a", subject: "s", customerId: "c", customer: EmailAddress(address: "c@x"),
                                                   createdAt: Date(timeIntervalSince1970: 0)))
        #expect(ticket["queueId"] == .null && ticket["agentId"] == .null)
        #expect(ticket["customer"]?["name"] == .null)
    }

    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case label(String, size: Int?)
        case nothing
    }

    struct Everything: Codable {
        var int = -42
        var int8: Int8 = -8
        var uint64: UInt64 = 1_700_000_000_123
        var double = 0.1
        var whole = 5.0
        var float: Float = 0.1
        var bool = true
        var string = "Tom & Jerry \"<3\" / \u{1F600}"
        var date = Date(timeIntervalSince1970: 1_795_000_000.123)
        var data = Data([0, 1, 2, 250, 255])
        var url = URL(string: "https://example.com/a?b=c")!
        var missing: String?
        var present: String? = "here"
        var list = [1, 2, 3]
        var nested = [["a": 1], ["b": 2]]
        var shapes: [Shape] = [.circle(radius: 1.5), .label("x", size: nil), .nothing]
        var byName = ["one": [true, false], "two": []]
        var byNumber = [3: "three", 1: "one"]
        var json = JSONValue.object(["n": .number(2), "s": .string("t"), "z": .null, "a": .array([.bool(false)])])
        var empty = Empty()
    }

    struct Empty: Codable {}

    /// Writes its own keys, including an explicit null and nested containers.
    struct Handwritten: Encodable {
        enum Key: String, CodingKey { case a, b, c, d }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeNil(forKey: .a)
            var inner = container.nestedContainer(keyedBy: Key.self, forKey: .b)
            try inner.encode(7, forKey: .c)
            var list = container.nestedUnkeyedContainer(forKey: .d)
            try list.encode("x")
            try list.encodeNil()
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encode(1.25)
        }
    }

    @Test func everyKindOfValueComesOutAsThroughText() throws {
        try expectSame(Everything())
        try expectSame(Handwritten())
        try expectSame([Everything(), Everything()])
        try expectSame("top-level string")
        try expectSame(12)
        try expectSame(Optional<Int>.none)
        try expectSame(Date(timeIntervalSince1970: 0))
    }

    @Test func mailroomTypesComeOutAsThroughText() throws {
        let ticket = Ticket(id: "t1", number: 1042, accountId: "a1", subject: "Where is my parcel?", status: .open, priority: .high,
                            customerId: "c1", customer: EmailAddress(name: "Ann", address: "ann@customer.example"), queueId: "q1",
                            agentId: nil, tags: ["vip", "billing"], escalated: true, unread: false, messageCount: 3,
                            createdAt: Date(timeIntervalSince1970: 1_795_000_000), updatedAt: Date(timeIntervalSince1970: 1_795_000_100.5),
                            lastMessageAt: nil, lastMessageDirection: .inbound)
        try expectSame(ticket)
        // The ticket's own builder (live events) gives the same value, with and without its optionals.
        #expect(ticket.jsonValue == (try JSONValue(encoding: ticket)))
        var other = ticket
        other.queueId = nil
        other.agentId = "u7"
        other.customer = EmailAddress(name: nil, address: "bob@example.com")
        other.lastMessageDirection = nil
        other.tags = []
        other.number = 9_007_199_254
        #expect(other.jsonValue == (try JSONValue(encoding: other)))
        var account = Account(key: "DESK", name: "Desk", fromAddress: "desk@example.com", fromName: "Example Desk")
        account.incoming = IncomingServer(protocol: .imap, connection: ServerConnection(host: "imap.example.com", auth: ServerAuth(method: .none)))
        try expectSame(account)
        try expectSame(NotificationSettings())
    }

    @Test func valuesJSONCannotHoldAreRefusedAsBefore() {
        #expect(throws: EncodingError.self) { try JSONValue(encoding: ["x": Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValue(encoding: [Float.infinity]) }
    }
}
