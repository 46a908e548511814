import Foundation

/// A `matches` pattern compiled with the limits that keep one hostile rule or message from
/// stalling ingest.
///
/// NSRegularExpression has no timeout, so three bounds apply together:
/// - the pattern is at most `RegexLimits.maxPatternLength` characters, and patterns with a
///   quantified group that itself ends in a quantifier (`(a+)+`, `(.*)*`) are refused when the
///   rule is saved, since those are the classic catastrophic-backtracking shapes;
/// - only the first `maxTextLength` UTF-16 units of the text are examined;
/// - matching runs with `.reportProgress`, and the progress callback stops the search once
///   `timeBudget` has elapsed; a stopped search counts as "no match" and is reported. All the
///   searches of one run of the rules on a message share `messageBudget`, so a message with many headers or
///   addresses cannot multiply the per-search budget.
///
/// The callback comes at ICU's progress checkpoints, so a search can overrun its budget by
/// one checkpoint's work; on this machine a catastrophic pattern stops within a few
/// milliseconds of the budget.
public struct RegexLimits: Sendable, Equatable {
    public var maxPatternLength: Int
    public var maxTextLength: Int
    public var timeBudget: Duration
    public var messageBudget: Duration

    public init(maxPatternLength: Int = 512, maxTextLength: Int = 65_536, timeBudget: Duration = .milliseconds(50),
                messageBudget: Duration = .milliseconds(250)) {
        self.maxPatternLength = maxPatternLength
        self.maxTextLength = maxTextLength
        self.timeBudget = timeBudget
        self.messageBudget = messageBudget
    }

    public static let standard = RegexLimits()
}

public struct BoundedRegex: Sendable {
    public enum Outcome: Sendable, Equatable {
        case matched, notMatched
        /// The time budget ran out before the search finished.
        case timedOut
    }

    private let expression: NSRegularExpression
    public let limits: RegexLimits

    /// Patterns are case-insensitive unless they switch it off inline with `(?-i)`.
    public init(_ pattern: String, limits: RegexLimits = .standard) throws(FieldError) {
        if let problem = BoundedRegex.problem(with: pattern, limits: limits) { throw FieldError("", problem) }
        do {
            expression = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
        } catch {
            throw FieldError("", "is not a valid regular expression")
        }
        self.limits = limits
    }

    /// Why a pattern may not be saved, or nil when it may.
    public static func problem(with pattern: String, limits: RegexLimits = .standard) -> String? {
        if pattern.isEmpty { return "must not be empty" }
        if pattern.count > limits.maxPatternLength {
            return "must be at most \(limits.maxPatternLength) characters"
        }
        if hasNestedQuantifier(pattern) {
            return "repeats a group that already repeats (such as (a+)+), which can take exponential time; rewrite it without the outer repetition"
        }
        if (try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive])) == nil {
            return "is not a valid regular expression"
        }
        return nil
    }

    public func evaluate(_ text: String) -> Outcome {
        evaluate(text, budget: limits.timeBudget)
    }

    /// Searches with at most `budget` of time (never more than `limits.timeBudget`).
    public func evaluate(_ text: String, budget: Duration) -> Outcome {
        let budget = min(budget, limits.timeBudget)
        if budget <= .zero { return .timedOut }
        let length = min(text.utf16.count, limits.maxTextLength)
        let started = ContinuousClock.now
        var found = false
        var timedOut = false
        expression.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: length)) { match, _, stop in
            if match != nil {
                found = true
                stop.pointee = true
            } else if ContinuousClock.now - started > budget {
                timedOut = true
                stop.pointee = true
            }
        }
        if found { return .matched }
        return timedOut ? .timedOut : .notMatched
    }

    /// Finds `( ... quantifier )` followed by a quantifier: a group whose last element repeats,
    /// itself repeated. Escapes and character classes are skipped so `\(` or `[+]` do not count.
    static func hasNestedQuantifier(_ pattern: String) -> Bool {
        let characters = Array(pattern)
        var stack: [Bool] = []  // per open group: does it contain a quantifier?
        var index = 0
        var inClass = false
        func isQuantifier(_ at: Int) -> Bool {
            guard at < characters.count else { return false }
            return characters[at] == "+" || characters[at] == "*" || characters[at] == "{"
        }
        while index < characters.count {
            let character = characters[index]
            if character == "\\" { index += 2; continue }
            if inClass {
                if character == "]" { inClass = false }
                index += 1
                continue
            }
            switch character {
            case "[": inClass = true
            case "(": stack.append(false)
            case ")":
                let innerRepeats = stack.popLast() ?? false
                if innerRepeats && isQuantifier(index + 1) { return true }
                if innerRepeats, !stack.isEmpty { stack[stack.count - 1] = true }
            case "+", "*", "{":
                if !stack.isEmpty { stack[stack.count - 1] = true }
            default: break
            }
            index += 1
        }
        return false
    }
}
