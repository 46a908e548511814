import Hummingbird
import MailroomCore

/// While the disk holding the data is full, requests that would write (every method but GET,
/// HEAD and OPTIONS) are refused with 503, `Retry-After` and the reason in words, before they
/// start work that could fail halfway. Reads go on, so agents still see their tickets.
struct DiskFullMiddleware: RouterMiddleware {
    typealias Context = MailroomRequestContext
    let health: StorageHealth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if ![.get, .head, .options].contains(request.method), let refusal = health.writeRefusal {
            throw refusal
        }
        return try await next(request, context)
    }
}
