import Foundation
import Hummingbird

/// The request context of every demo service: Hummingbird's basic context with reproducible, readable JSON.
struct DemoRequestContext: RequestContext {
    /// One encoder for all responses: sorted keys make equal data give equal bytes on every run,
    /// unescaped slashes keep the URLs in the seeded data readable.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    var coreContext: CoreRequestContextStorage

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var responseEncoder: JSONEncoder {
        Self.encoder
    }
}
