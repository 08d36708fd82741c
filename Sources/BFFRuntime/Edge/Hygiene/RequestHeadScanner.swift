/// Follows the raw bytes of one HTTP/1.1 connection, request after request, and judges every head
/// before the HTTP decoder sees it.
///
/// It frames bodies itself (Content-Length, chunked) so that it knows where each pipelined head
/// starts, and it is stricter than the decoder on everything that decides framing: where the decoder
/// might accept something, this refuses it, so the two can never disagree about where a request ends.
///
/// ```swift
/// var scanner = RequestHeadScanner(policy: policy)
/// let (end, event) = bytes.withUnsafeBytes { scanner.next(in: $0, from: 0) }
/// ```
struct RequestHeadScanner {
    enum Event: Equatable {
        /// A request head starts at the returned offset (the byte there is not consumed yet).
        case headStarted
        /// The head ended just before the returned offset and passed every check.
        case headEnded
        /// The head breaks a rule (the returned offset is just past the offending byte).
        case rejected(IngressRejection)
        /// A chunked body is malformed (400), or its chunks add up to more than any route accepts
        /// (413): nothing after it can be framed, and the request it belongs to must not go on.
        case bodyRefused(IngressRejection)
    }

    private enum Phase: Equatable {
        case betweenRequests
        case betweenRequestsAfterCR
        case requestLine
        case headerLines
        case body(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailerLines
    }

    /// What the checks at the end of a head need to know about its fields.
    private struct HeadFacts {
        var isHTTP10 = false
        var contentLengths: [[UInt8]] = []
        var transferEncodings: [[UInt8]] = []
        var authorizations = 0
        var apiKeys = 0
        var hosts = 0
    }

    private let policy: IngressPolicy
    private let apiKeyHeader: [UInt8]
    private var phase = Phase.betweenRequests
    private var line: [UInt8] = []
    private var lineHasCR = false
    private var headerBytes = 0
    private var fields = 0
    private var head = HeadFacts()
    /// Bytes of the chunked body being received, as its chunk sizes declare them.
    private var chunkedBytes = 0

    /// Longest chunk-size line (size plus extensions) accepted.
    private static let chunkLineLimit = 1024

    init(policy: IngressPolicy) {
        self.policy = policy
        self.apiKeyHeader = Array(policy.apiKeyHeader.utf8)
    }

    /// Scans `bytes` from `start` up to the next event, or to the end when there is none.
    /// - Returns: where scanning stopped and the event found there, if any.
    mutating func next(in bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, event: Event?) {
        var index = start
        while index < bytes.count {
            switch phase {
            case .body(let remaining):
                let taken = min(remaining, bytes.count - index)
                index += taken
                phase = taken == remaining ? .betweenRequests : .body(remaining: remaining - taken)
            case .chunkData(let remaining):
                let taken = min(remaining, bytes.count - index)
                index += taken
                phase = taken == remaining ? .chunkDataCR : .chunkData(remaining: remaining - taken)
            case .chunkDataCR, .chunkDataLF:
                let expected: UInt8 = phase == .chunkDataCR ? .cr : .lf
                guard bytes[index] == expected else { return (index + 1, .bodyRefused(.malformed("a chunk's data is not followed by CRLF"))) }
                phase = phase == .chunkDataCR ? .chunkDataLF : .chunkSizeLine
                index += 1
            case .betweenRequests:
                // An empty line between requests is tolerated (RFC 9112 2.2): some clients send CRLF
                // after a body. It does not start the head deadline, so it cannot cut keep-alive.
                if bytes[index] == .cr {
                    phase = .betweenRequestsAfterCR
                    index += 1
                    continue
                }
                startHead()
                return (index, .headStarted)
            case .betweenRequestsAfterCR:
                guard bytes[index] == .lf else { return (index + 1, .rejected(.malformed("a bare CR before the request line"))) }
                phase = .betweenRequests
                index += 1
            case .requestLine, .headerLines, .chunkSizeLine, .trailerLines:
                let byte = bytes[index]
                index += 1
                if let event = consumeLineByte(byte) { return (index, event) }
            }
        }
        return (index, nil)
    }

    private mutating func startHead() {
        phase = .requestLine
        line.removeAll(keepingCapacity: true)
        lineHasCR = false
        headerBytes = 0
        fields = 0
        head = HeadFacts()
    }

    private var isInBody: Bool {
        switch phase {
        case .chunkSizeLine, .trailerLines: true
        default: false
        }
    }

    /// A rejection in a head, or of the request whose chunked body the line belongs to.
    private func refuse(_ rejection: IngressRejection) -> Event {
        isInBody ? .bodyRefused(rejection) : .rejected(rejection)
    }

    // MARK: Lines

    private mutating func consumeLineByte(_ byte: UInt8) -> Event? {
        if phase == .headerLines || phase == .trailerLines {
            headerBytes += 1
            if headerBytes > policy.headerBytes { return refuse(.headerBlockTooLarge(limit: policy.headerBytes)) }
        }
        if lineHasCR {
            guard byte == .lf else { return refuse(.malformed("a bare CR in the request head")) }
            lineHasCR = false
            let event = endOfLine()
            line.removeAll(keepingCapacity: true)
            return event
        }
        switch byte {
        case .cr:
            lineHasCR = true
            return nil
        case .lf:
            return refuse(.malformed("a line ends with a bare LF; end every line with CRLF"))
        default:
            line.append(byte)
            if phase == .requestLine && line.count > policy.requestLineBytes {
                return .rejected(.requestLineTooLong(limit: policy.requestLineBytes))
            }
            if phase == .chunkSizeLine && line.count > Self.chunkLineLimit {
                return .bodyRefused(.malformed("a chunk-size line is longer than \(Self.chunkLineLimit) bytes"))
            }
            return nil
        }
    }

    private mutating func endOfLine() -> Event? {
        switch phase {
        case .requestLine:
            if let rejection = checkRequestLine() { return .rejected(rejection) }
            phase = .headerLines
            return nil
        case .headerLines:
            if line.isEmpty { return endOfHead() }
            fields += 1
            if fields > policy.headerFields { return .rejected(.tooManyHeaderFields(limit: policy.headerFields)) }
            return checkField().map(Event.rejected)
        case .chunkSizeLine:
            guard let size = Self.chunkSize(line) else {
                return .bodyRefused(.malformed("a chunk size is not a hexadecimal number of at most 15 digits (no sign, no 0x)"))
            }
            chunkedBytes += size
            if chunkedBytes > policy.contentLengthCap { return .bodyRefused(.contentTooLarge(limit: policy.contentLengthCap)) }
            if size == 0 {
                phase = .trailerLines
                headerBytes = 0
            } else {
                phase = .chunkData(remaining: size)
            }
            return nil
        case .trailerLines:
            if line.isEmpty {
                phase = .betweenRequests
                return nil
            }
            return checkField().map(Event.bodyRefused)
        default:
            return nil
        }
    }

    private mutating func checkRequestLine() -> IngressRejection? {
        guard line.allSatisfy({ $0 == .space || (0x21...0x7E).contains($0) }) else {
            return .malformed("a control or non-ASCII character in the request line; percent-encode the target")
        }
        // Method, target and version split at single spaces (no split array: this runs for every
        // request); the version, matched exactly below, holds no space.
        guard let firstSpace = line.firstIndex(of: .space),
            let secondSpace = line[(firstSpace + 1)...].firstIndex(of: .space),
            firstSpace > line.startIndex, secondSpace > firstSpace + 1,
            line[..<firstSpace].allSatisfy(HTTP1Syntax.isTokenCharacter)
        else {
            return .malformed("the request line is not 'METHOD target HTTP/1.1'")
        }
        switch String(decoding: line[(secondSpace + 1)...], as: UTF8.self) {
        case "HTTP/1.1": head.isHTTP10 = false
        case "HTTP/1.0": head.isHTTP10 = true
        default: return .malformed("only HTTP/1.1 and HTTP/1.0 are served")
        }
        return nil
    }

    private mutating func checkField() -> IngressRejection? {
        if line[0] == .space || line[0] == .tab {
            return .malformed("a header line starts with whitespace (obs-fold); send each header on one line")
        }
        guard let colon = line.firstIndex(of: .colon) else { return .malformed("a header line has no colon") }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(HTTP1Syntax.isTokenCharacter) else {
            return .malformed("an invalid header name (no spaces or control characters, none before the colon)")
        }
        var value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == .tab || $0 >= 0x20 && $0 != 0x7F }) else {
            return .malformed("a control character in the value of header \(String(decoding: name, as: UTF8.self))")
        }
        while let first = value.first, first == .space || first == .tab { value.removeFirst() }
        while let last = value.last, last == .space || last == .tab { value.removeLast() }
        if Self.equalsIgnoringCase(name, "content-length") {
            head.contentLengths.append(Array(value))
        } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
            head.transferEncodings.append(Array(value))
        } else if Self.equalsIgnoringCase(name, "authorization") {
            head.authorizations += 1
        } else if Self.equalsIgnoringCase(name, "host") {
            head.hosts += 1
        } else if Self.equalsIgnoringCase(name, apiKeyHeader) {
            head.apiKeys += 1
        }
        return nil
    }

    // MARK: Whole head

    private mutating func endOfHead() -> Event {
        if let rejection = checkHead() { return .rejected(rejection) }
        if !head.transferEncodings.isEmpty {
            phase = .chunkSizeLine
            chunkedBytes = 0
        } else if let length = head.contentLengths.first.flatMap(Self.decimal), length > 0 {
            phase = .body(remaining: length)
        } else {
            phase = .betweenRequests
        }
        return .headEnded
    }

    private func checkHead() -> IngressRejection? {
        if head.authorizations > 1 { return .malformed("more than one Authorization header") }
        if head.apiKeys > 1 { return .malformed("more than one \(policy.apiKeyHeader) header") }
        if head.hosts > 1 { return .malformed("more than one Host header") }
        if head.hosts == 0 && !head.isHTTP10 { return .malformed("an HTTP/1.1 request without a Host header") }
        if !head.transferEncodings.isEmpty {
            if !head.contentLengths.isEmpty { return .malformed("both Content-Length and Transfer-Encoding; send one") }
            if head.isHTTP10 { return .malformed("Transfer-Encoding on an HTTP/1.0 request") }
            guard head.transferEncodings.count == 1, Self.equalsIgnoringCase(head.transferEncodings[0][...], "chunked") else {
                return .malformed("only 'Transfer-Encoding: chunked' is accepted")
            }
            return nil
        }
        guard let first = head.contentLengths.first else { return nil }
        if head.contentLengths.contains(where: { $0 != first }) { return .malformed("conflicting Content-Length headers") }
        if head.contentLengths.count > 1 { return .malformed("a repeated Content-Length header; send it once") }
        guard let length = Self.decimal(first) else { return .malformed("Content-Length is not a decimal number") }
        if length > policy.contentLengthCap { return .contentTooLarge(limit: policy.contentLengthCap) }
        return nil
    }

    // MARK: Parsing helpers

    /// A non-negative decimal of at most 18 digits (so it fits an Int), else nil.
    private static func decimal(_ digits: [UInt8]) -> Int? {
        guard (1...18).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// The size of a chunk-size line (`1a` or `1a;name=value`); nil when it is not one.
    private static func chunkSize(_ line: [UInt8]) -> Int? {
        let size = line.prefix { $0 != .semicolon }
        guard (1...15).contains(size.count) else { return nil }
        var value = 0
        for byte in size {
            guard let digit = HTTP1Syntax.hexDigit(byte) else { return nil }
            value = value << 4 | digit
        }
        let extensions = line[size.endIndex...]
        guard extensions.allSatisfy({ $0 == .tab || (0x20...0x7E).contains($0) }) else { return nil }
        return value
    }

    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercased: some Collection<UInt8>) -> Bool {
        bytes.count == lowercased.count && zip(bytes, lowercased).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
    }

    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercased: String) -> Bool {
        equalsIgnoringCase(bytes, lowercased.utf8)
    }
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let semicolon = UInt8(ascii: ";")
}
