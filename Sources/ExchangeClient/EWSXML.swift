import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An element of an EWS answer: local name, namespace, attributes, children and text. Built by
/// Foundation's XMLParser (a real parser: entities, CDATA and namespaces are its business), with
/// limits on size and depth so a hostile server cannot make Mailroom build an endless tree.
public final class XMLNode: @unchecked Sendable {
    public let name: String
    public let namespace: String?
    public let attributes: [String: String]
    public internal(set) var children: [XMLNode] = []
    public internal(set) var text: String = ""

    init(name: String, namespace: String?, attributes: [String: String]) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
    }

    /// The first child with this local name.
    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// Follows local names down the tree (`path("ResponseMessages", "GetItemResponseMessage")`).
    public func path(_ names: String...) -> XMLNode? {
        var node: XMLNode? = self
        for name in names { node = node?.child(name) }
        return node
    }

    /// Every descendant with this local name, in document order.
    public func descendants(_ name: String) -> [XMLNode] {
        var found: [XMLNode] = []
        for child in children {
            if child.name == name { found.append(child) }
            found += child.descendants(name)
        }
        return found
    }

    public var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
}

public enum EWSXML {
    public static let maxDepth = 64
    public static let soapNamespace = "http://schemas.xmlsoap.org/soap/envelope/"

    /// Parses a whole document; malformed or too deep XML is an ExchangeError of kind `malformedResponse`.
    public static func parse(_ bytes: [UInt8]) throws -> XMLNode {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = delegate
        let ok = parser.parse()
        guard ok, delegate.failure == nil, let root = delegate.root else {
            throw ExchangeError(.malformedResponse,
                                message: "the EWS answer is not well-formed XML (\(delegate.failure ?? parser.parserError.map { "\($0)" } ?? "cut off"))")
        }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: XMLNode?
        var stack: [XMLNode] = []
        var failure: String?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            guard stack.count < EWSXML.maxDepth else {
                failure = "nested deeper than \(EWSXML.maxDepth) elements"
                parser.abortParsing()
                return
            }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            let node = XMLNode(name: local, namespace: namespaceURI, attributes: attributes)
            if let parent = stack.last { parent.children.append(node) } else if root == nil { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
            if failure == nil { failure = "\(parseError)" }
        }
    }

    /// Text for an element's content or an attribute's value.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 cannot carry most control characters at all.
                if character.value < 0x20 && ![0x9, 0xA, 0xD].contains(character.value) { continue }
                out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
