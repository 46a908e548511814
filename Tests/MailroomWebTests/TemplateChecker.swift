import Foundation

/// Reads Mustache templates as swift-mustache does and checks every name they use against the
/// shape of the view they are rendered with, following sections, partials and the layout with
/// the same context stack the renderer builds.
struct TemplateChecker {
    /// Template text by name (`admin/users`), as the library names them.
    let templates: [String: String]
    private(set) var problems: [String] = []
    /// Templates reached from the checked views.
    private(set) var reached: Set<String> = []

    init(templates: [String: String]) {
        self.templates = templates
    }

    /// Loads every `.mustache` file below `directory`.
    static func load(_ directory: URL) throws -> [String: String] {
        var templates: [String: String] = [:]
        let names = FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []
        for name in names where name.hasSuffix(".mustache") {
            templates[String(name.dropLast(".mustache".count))] = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        }
        return templates
    }

    mutating func check(_ template: String, with shape: ViewShape, as view: String) {
        if case .object(let object) = shape, !object.duplicates.isEmpty {
            problems.append("\(view): the names \(object.duplicates.sorted()) are fields of two of its parts")
        }
        check(template, stack: [shape], view: view, depth: 0)
    }

    // MARK: Tags

    enum Tag: Equatable {
        case variable(String)
        case section(String)
        case inverted(String)
        case close(String)
        case partial(String)
        case parent(String)
        case block(String)
        case ignored
        case unsupported(String)
    }

    /// The tags of a template, in order (default delimiters only; a delimiter change is reported).
    static func tags(_ text: String) -> [Tag] {
        var tags: [Tag] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            let triple = rest.hasPrefix("{")
            guard let close = rest.range(of: triple ? "}}}" : "}}") else {
                tags.append(.unsupported("an unclosed tag"))
                break
            }
            var content = rest[..<close.lowerBound]
            rest = rest[close.upperBound...]
            if triple {
                tags.append(.variable(content.dropFirst().trimmingCharacters(in: .whitespaces)))
                continue
            }
            content = content.drop { $0 == " " }
            guard let sigil = content.first else { continue }
            let name = content.dropFirst().trimmingCharacters(in: .whitespaces)
            switch sigil {
            case "#": tags.append(.section(name))
            case "^": tags.append(.inverted(name))
            case "/": tags.append(.close(name))
            case ">": tags.append(.partial(name))
            case "<": tags.append(.parent(name))
            case "$": tags.append(.block(name))
            case "&": tags.append(.variable(name))
            case "!", "%": tags.append(.ignored)
            case "=": tags.append(.unsupported("a delimiter change"))
            default: tags.append(.variable(content.trimmingCharacters(in: .whitespaces)))
            }
        }
        return tags
    }

    // MARK: Checking

    /// A context on the stack: the object a section pushed, or nothing (a bool, a text, an inverted section).
    private typealias Context = ViewShape

    private mutating func check(_ name: String, stack: [Context], view: String, depth: Int) {
        reached.insert(name)
        guard depth < 16 else {
            problems.append("\(view): templates include each other too deeply at \(name)")
            return
        }
        guard let text = templates[name] else {
            problems.append("\(view): no template named \(name)")
            return
        }
        var stack = stack
        /// Per open tag: its name and whether it pushed a context.
        var open: [(name: String, pushed: Bool)] = []
        for tag in Self.tags(text) {
            let place = "\(name).mustache (rendered with \(view))"
            switch tag {
            case .variable(let variable):
                _ = resolve(variable, in: stack, at: place)
            case .section(let section):
                let pushed: Context? = switch resolve(section, in: stack, at: place) {
                case .list(let element)?: element
                case .object(let object)?: .object(object)
                default: nil
                }
                if let pushed { stack.append(pushed) }
                open.append((section, pushed != nil))
            case .inverted(let section):
                _ = resolve(section, in: stack, at: place)
                open.append((section, false))
            case .block(let block):
                open.append((block, false))
            case .parent(let parent):
                check(parent, stack: stack, view: view, depth: depth + 1)
                open.append((parent, false))
            case .partial(let partial):
                check(partial, stack: stack, view: view, depth: depth + 1)
            case .close(let closed):
                guard let last = open.popLast(), last.name == closed else {
                    problems.append("\(place): {{/\(closed)}} closes nothing open")
                    continue
                }
                if last.pushed { stack.removeLast() }
            case .ignored:
                break
            case .unsupported(let what):
                problems.append("\(place): \(what) cannot be checked")
            }
        }
        if let unclosed = open.last { problems.append("\(name).mustache: {{#\(unclosed.name)}} is never closed") }
    }

    /// The shape `name` refers to, looked up as swift-mustache does: the first part in the
    /// innermost context that has it, the rest of a dotted name inside that.
    private mutating func resolve(_ name: String, in stack: [Context], at place: String) -> ViewShape? {
        if name == "." { return stack.last }
        let parts = name.split(separator: ".").map(String.init)
        guard let first = parts.first else { return nil }
        guard let level = stack.lastIndex(where: { $0.field(first) != nil }), let field = stack[level].field(first) else {
            problems.append("\(place): {{\(name)}} is not a field of its view or of the sections around it")
            return nil
        }
        if field.optional, stack[..<level].contains(where: { $0.field(first) != nil }) {
            problems.append("\(place): the optional {{\(first)}} shows an outer field of the same name when it is nil")
        }
        var shape = field.shape
        for part in parts.dropFirst() {
            guard let next = shape.field(part) else {
                problems.append("\(place): {{\(name)}}: \(part) is not a field of \(shape)")
                return nil
            }
            shape = next.shape
        }
        return shape
    }
}

extension ViewShape {
    func field(_ name: String) -> ViewObject.Field? {
        if case .object(let object) = self { return object.fields[name] }
        return nil
    }
}
