import Testing

/// The TLS, HTTP/2 and WebSocket suites, one test at a time: each drives real clients (curl,
/// h2load, Python) against gateways of its own, and together at once they would load the machine
/// enough to upset the suites that measure memory or timing beside them.
@Suite(.serialized) enum ListenerProtocolTests {}
