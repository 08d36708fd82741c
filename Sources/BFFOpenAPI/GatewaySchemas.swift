import BFFSpec

/// The schemas of what the gateway itself writes: problems and the `_meta` report. They follow
/// `Problem` and `ResponseComposer` in BFFRuntime.
enum GatewaySchemas {
    static let problemName = "Problem"
    static let callReportName = "CallReport"

    static func reference(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    /// RFC 9457 problem details as every gateway error carries them.
    static let problem: JSONValue = [
        "type": "object",
        "description": "An error answered by the gateway (RFC 9457). Details never include upstream hosts or bodies.",
        "required": ["type", "title", "status", "detail", "request_id"],
        "properties": [
            "type": ["type": "string", "description": "Always about:blank."],
            "title": ["type": "string", "description": "The status's reason phrase."],
            "status": ["type": "integer", "description": "The HTTP status code."],
            "detail": ["type": "string", "description": "What went wrong and what to do."],
            "instance": ["type": "string", "description": "The request path."],
            "request_id": ["type": "string", "description": "The request's X-Request-ID, for the logs."],
            "calls": [
                "type": "object",
                "description": "For a failed aggregation: how each call ended.",
                "additionalProperties": [
                    "type": "object",
                    "required": ["status"],
                    "properties": ["status": callStatus, "http": ["type": "integer", "description": "The service's HTTP status."]],
                ],
            ],
        ],
    ]

    /// One call's entry in `_meta.calls`.
    static let callReport: JSONValue = [
        "type": "object",
        "required": ["status", "ms"],
        "properties": [
            "status": callStatus,
            "ms": ["type": "number", "description": "Wall time of the call in milliseconds."],
            "http": ["type": "integer", "description": "The service's HTTP status, when it answered."],
            "source": [
                "type": "string", "enum": ["fallback", "cache", "stale"],
                "description": "Where the section came from when not from the service just now: the call's fallback, a fresh stored answer, or the last good answer standing in for a failed call.",
            ],
            "age_s": ["type": "integer", "description": "Age in seconds of a stored answer."],
            "attempts": ["type": "integer", "minimum": 2, "description": "Requests sent, when retried."],
            "hedged": ["type": "boolean", "description": "Present when a hedged second request was sent."],
        ],
    ]

    private static let callStatus: JSONValue = [
        "type": "string", "enum": ["ok", "error", "timeout", "skipped", "cancelled", "circuit_open"],
        "description": "How the call ended; circuit_open means its service's breaker was open and it was not sent.",
    ]

    /// `_meta` of a route whose calls are `calls`; `complete` when every call is always reported.
    static func meta(calls: [String], complete: Bool) -> JSONValue {
        var callsSchema: [(String, JSONValue)] = [
            ("type", "object"),
            ("properties", .object(calls.map { ($0, reference(callReportName)) })),
            ("additionalProperties", false),
        ]
        if complete && !calls.isEmpty { callsSchema.append(("required", .array(calls.map(JSONValue.string)))) }
        return [
            "type": "object",
            "description": "How the answer was made; the same flag is in X-BFF-Degraded, the timings in Server-Timing.",
            "required": ["degraded", "calls"],
            "properties": [
                "degraded": ["type": "boolean", "description": "True when a call failed and its section holds its fallback (or a stale copy)."],
                "calls": .object(callsSchema),
            ],
        ]
    }
}
