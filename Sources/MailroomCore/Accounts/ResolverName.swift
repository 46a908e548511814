/// A strategy that decides which open ticket a new message joins (Ameyo's ticket resolvers).
public enum ResolverName: String, NamedValues {
    /// Single ticket for each customer from the same account.
    case customerPerAccount
    /// Single ticket for each customer, whichever account the mail came to.
    case customer
    /// Single ticket of the same subject, whoever sent it.
    case subject
    /// Single ticket of the same subject from the same customer.
    case subjectAndCustomer
    /// The thread: In-Reply-To and References, including Mailroom's own Message-IDs.
    case caseId
    /// Same subject from an observer who was in Cc of the customer's mail.
    case subjectFromObserver
    /// Same subject from the same customer to the same account.
    case subjectCustomerAccount

    /// What a new account starts with: follow the mail thread, nothing else.
    public static let defaultOrder: [ResolverName] = [.caseId]
}
