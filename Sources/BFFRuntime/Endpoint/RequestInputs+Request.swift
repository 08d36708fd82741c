import Hummingbird

extension RequestInputs {
    /// What templates may read from `request`: its route captures, query, headers, request id, the
    /// caller's claims and the connection's client certificate subject.
    init(request: Request, context: BFFRequestContext, captures: [String: String]) {
        self.init(
            captures: captures,
            query: RequestInputs.parseQuery(request.uri.query.map { Substring($0) }),
            headers: request.headers,
            requestID: context.requestID,
            claims: context.principal?.claims ?? [:]
        )
        tlsSubject = context.tls?.clientSubject
        identityHeaders = context.identityHeaders
        principal = context.principal
        trace = context.trace
    }
}

extension CompiledPlan {
    /// Refuses bad request input with a 400 before any call starts.
    func requireValidInputs(_ inputs: RequestInputs) throws(Problem) {
        do {
            try validate(inputs)
        } catch {
            throw Problem.badRequest(error.clientMessage)
        }
    }
}
