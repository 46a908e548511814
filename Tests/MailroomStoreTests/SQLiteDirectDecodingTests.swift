import Foundation
@testable import MailroomStore
import SQLiteKit
import Testing

/// The direct column decoding gives what SQLiteKit's decoder gives, for every value it takes on,
/// and leaves everything else to that decoder.
@Suite struct SQLiteDirectDecodingTests {
    let values: [SQLiteData] = [.text("héllo"), .text(""), .text("42"), .integer(0), .integer(1), .integer(2), .integer(-7), .integer(Int.max),
                                .float(1.5), .null]

    func same<D: Decodable & Equatable>(_ type: D.Type) {
        for value in values {
            guard let direct = SQLiteRowValues.decodeDirectly(value, as: D.self) else { continue }
            #expect(direct == (try? SQLiteDataDecoder().decode(D.self, from: value)), "\(value) as \(D.self)")
        }
    }

    @Test func directDecodingAgreesWithTheDecoder() {
        same(String.self)
        same(String?.self)
        same(Int.self)
        same(Int64.self)
        same(Int?.self)
        same(Int64?.self)
        same(Bool.self)
    }

    @Test func otherTypesAndMismatchesAreLeftToTheDecoder() {
        #expect(SQLiteRowValues.decodeDirectly(.integer(2), as: Bool.self) == nil)
        #expect(SQLiteRowValues.decodeDirectly(.integer(1), as: String.self) == nil)
        #expect(SQLiteRowValues.decodeDirectly(.text("1"), as: Int.self) == nil)
        #expect(SQLiteRowValues.decodeDirectly(.float(1), as: Double.self) == nil)
        #expect(SQLiteRowValues.decodeDirectly(.null, as: String.self) == nil)
    }
}
