import Yams

// MARK: Instances, balancing, health, ejection, breakers, retries, hedging, deadlines

extension SpecLoader {
    static let resilienceServiceKeys = SpecGrammar.resilienceServiceFields.map(\.key)
    static let instanceKeys = SpecGrammar.instance.keys
    static let healthCheckKeys = SpecGrammar.healthCheck.keys
    static let outlierKeys = SpecGrammar.outlier.keys
    static let breakerKeys = SpecGrammar.circuitBreaker.keys
    static let retryKeys = SpecGrammar.retry.keys
    static let hedgeKeys = SpecGrammar.hedge.keys
    static let deadlineKeys = SpecGrammar.deadlines.keys

    /// `urls: [http://a:1, { url: http://b:1, weight: 3 }]`.
    static func readInstances(_ node: Node, service: String, reader: YAMLReader) -> [ServiceInstanceSpec]? {
        guard let items = reader.sequence(node, what: "urls of service '\(service)'") else { return nil }
        guard !items.isEmpty else {
            reader.report(node, "urls of service '\(service)' is empty", hint: "list at least one instance URL")
            return nil
        }
        let instances: [ServiceInstanceSpec] = items.compactMap { item in
            var text: String?
            var weight = 1
            var textNode = item
            if item.scalar != nil {
                text = reader.string(item, what: "an instance url")
            } else {
                for (key, _, value) in reader.mapping(item, what: "an instance of service '\(service)'", allowed: instanceKeys) ?? [] {
                    switch key {
                    case "url":
                        text = reader.string(value, what: "url")
                        textNode = value
                    case "weight": weight = reader.positiveInt(value, what: "weight") ?? weight
                    default: break
                    }
                }
            }
            guard let text else {
                reader.report(item, "an instance of service '\(service)' has no url", hint: "write the URL, or '{ url: http://..., weight: 2 }'")
                return nil
            }
            guard let url = UpstreamURL(text) else {
                reader.report(textNode, "url '\(text)' of service '\(service)' is not an http(s) URL", hint: "write e.g. http://127.0.0.1:9001 (no user, query or fragment)")
                return nil
            }
            return ServiceInstanceSpec(url: url, weight: weight)
        }
        return instances.count == items.count ? instances : nil
    }

    /// The service keys of this section; anything else was already refused by the mapping.
    static func readResilience(_ key: String, _ node: Node, into service: inout ServiceSpec, reader: YAMLReader) {
        switch key {
        case "balance":
            guard let text = reader.string(node, what: "balance") else { return }
            if let strategy = BalanceStrategy(rawValue: text) {
                service.balance = strategy
            } else {
                reader.report(node, "balance '\(text)' is not a strategy", hint: "use one of \(BalanceStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        case "health_check":
            service.healthCheck = readHealthCheck(node, reader: reader)
        case "outlier":
            if node.scalar?.string == "off" {
                service.outlier = nil
            } else {
                service.outlier = readOutlier(node, reader: reader)
            }
        case "circuit_breaker":
            service.circuitBreaker = readBreaker(node, reader: reader)
        case "retry":
            service.retry = readRetry(node, reader: reader)
        default:
            break
        }
    }

    private static func readHealthCheck(_ node: Node, reader: YAMLReader) -> HealthCheckSpec? {
        guard let fields = reader.mapping(node, what: "health_check", allowed: healthCheckKeys) else { return nil }
        var check = HealthCheckSpec(location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "path":
                guard let path = reader.string(value, what: "path") else { continue }
                if path.hasPrefix("/") && !path.contains(where: { $0 == " " || $0.asciiValue.map { $0 < 0x21 || $0 == 0x7F } ?? true }) {
                    check.path = path
                } else {
                    reader.report(value, "health_check path '\(path)' is not an absolute path", hint: "write e.g. /health (ASCII, no spaces)")
                }
            case "interval": check.interval = reader.duration(value, what: "interval") ?? check.interval
            case "timeout": check.timeout = reader.duration(value, what: "timeout") ?? check.timeout
            case "healthy": check.healthyThreshold = reader.positiveInt(value, what: "healthy") ?? check.healthyThreshold
            case "unhealthy": check.unhealthyThreshold = reader.positiveInt(value, what: "unhealthy") ?? check.unhealthyThreshold
            default: break
            }
        }
        if check.timeout > check.interval {
            reader.report(node, "health_check timeout (\(check.timeout)) is longer than its interval (\(check.interval))", hint: "make the timeout at most the interval")
        }
        return check
    }

    private static func readOutlier(_ node: Node, reader: YAMLReader) -> OutlierSpec? {
        guard let fields = reader.mapping(node, what: "outlier", allowed: outlierKeys) else { return nil }
        var outlier = OutlierSpec.default
        for (key, _, value) in fields {
            switch key {
            case "consecutive_failures": outlier.consecutiveFailures = reader.positiveInt(value, what: "consecutive_failures") ?? outlier.consecutiveFailures
            case "ejection": outlier.ejection = reader.duration(value, what: "ejection") ?? outlier.ejection
            case "max_ejection": outlier.maxEjection = reader.duration(value, what: "max_ejection") ?? outlier.maxEjection
            case "max_ejected": outlier.maxEjectedShare = reader.share(value, what: "max_ejected") ?? outlier.maxEjectedShare
            default: break
            }
        }
        return outlier
    }

    private static func readBreaker(_ node: Node, reader: YAMLReader) -> CircuitBreakerSpec? {
        guard let fields = reader.mapping(node, what: "circuit_breaker", allowed: breakerKeys) else { return nil }
        var breaker = CircuitBreakerSpec()
        for (key, _, value) in fields {
            switch key {
            case "window": breaker.window = reader.duration(value, what: "window") ?? breaker.window
            case "min_requests": breaker.minRequests = reader.positiveInt(value, what: "min_requests") ?? breaker.minRequests
            case "failure_rate":
                if let share = reader.share(value, what: "failure_rate") {
                    if share > 0 { breaker.failureRate = share } else { reader.report(value, "failure_rate 0% would keep the breaker open", hint: "write e.g. 50%") }
                }
            case "open_for": breaker.openFor = reader.duration(value, what: "open_for") ?? breaker.openFor
            case "half_open_probes": breaker.halfOpenProbes = reader.positiveInt(value, what: "half_open_probes") ?? breaker.halfOpenProbes
            default: break
            }
        }
        return breaker
    }

    private static func readRetry(_ node: Node, reader: YAMLReader) -> RetrySpec? {
        guard let fields = reader.mapping(node, what: "retry", allowed: retryKeys) else { return nil }
        var retry = RetrySpec()
        for (key, _, value) in fields {
            switch key {
            case "attempts": retry.attempts = reader.positiveInt(value, what: "attempts") ?? retry.attempts
            case "backoff": retry.backoff = reader.duration(value, what: "backoff") ?? retry.backoff
            case "max_backoff": retry.maxBackoff = reader.duration(value, what: "max_backoff") ?? retry.maxBackoff
            case "budget": retry.budget = reader.share(value, what: "budget") ?? retry.budget
            case "min_per_second":
                if let text = value.scalar?.string, let count = Int(text), count >= 0 {
                    retry.minPerSecond = count
                } else {
                    reader.report(value, "min_per_second must be a whole number, 0 or more")
                }
            default: break
            }
        }
        return retry
    }

    static func readHedge(_ node: Node, reader: YAMLReader) -> HedgeSpec? {
        guard let fields = reader.mapping(node, what: "hedge", allowed: hedgeKeys) else { return nil }
        var after: HedgeSpec.After?
        var max = 1
        for (key, _, value) in fields {
            switch key {
            case "after":
                if value.scalar?.string == "p95" {
                    after = .p95
                } else if let delay = reader.duration(value, what: "hedge after") {
                    after = .delay(delay)
                }
            case "max": max = reader.positiveInt(value, what: "max") ?? max
            default: break
            }
        }
        guard let after else {
            if !fields.contains(where: { $0.key == "after" }) {
                reader.report(node, "hedge has no 'after'", hint: "write e.g. 'hedge: { after: 50ms }' or 'after: p95'")
            }
            return nil
        }
        return HedgeSpec(after: after, max: max)
    }

    static func readDeadlines(_ node: Node, reader: YAMLReader) -> DeadlineSpec? {
        guard let fields = reader.mapping(node, what: "deadlines", allowed: deadlineKeys) else { return nil }
        var deadlines = DeadlineSpec()
        for (key, _, value) in fields {
            switch key {
            case "header":
                guard let text = reader.string(value, what: "header") else { continue }
                if text == "off" {
                    deadlines.header = nil
                } else if !text.isEmpty, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) {
                    deadlines.header = text
                } else {
                    reader.report(value, "deadlines header '\(text)' is not a header name", hint: "write e.g. X-Request-Deadline-Ms, or 'off'")
                }
            case "min_remaining": deadlines.minRemaining = reader.duration(value, what: "min_remaining") ?? deadlines.minRemaining
            default: break
            }
        }
        return deadlines
    }
}

extension YAMLReader {
    /// A share written as a percentage (`20%`) or a fraction (`0.2`), between 0 and 1.
    func share(_ node: Node, what: String) -> Double? {
        let text = node.scalar?.string ?? ""
        let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
        guard let value, (0...1).contains(value) else {
            report(node, "\(what) '\(text)' is not a share", hint: "write a percentage such as 20%, or a fraction such as 0.2")
            return nil
        }
        return value
    }
}
