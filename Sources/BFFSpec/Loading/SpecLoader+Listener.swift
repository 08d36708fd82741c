import Foundation
import Yams

extension SpecLoader {
    static let tlsKeys = SpecGrammar.tls.keys
    static let http2Keys = SpecGrammar.http2.keys

    /// Reads `tls:`; `key` is the `tls` key itself, where the section's problems are reported.
    static func readTLS(_ node: Node, key keyNode: Node, reader: YAMLReader) -> TLSSpec? {
        guard let fields = reader.mapping(node, what: "tls", allowed: tlsKeys) else { return nil }
        var certFile: String?, keyFile: String?, clientCAFile: String?
        var minVersion = TLSVersion.v1_2
        for (key, _, value) in fields {
            switch key {
            case "cert_file": certFile = readableFile(value, what: "tls.cert_file", contents: "the server certificate chain", reader: reader)
            case "key_file": keyFile = readableFile(value, what: "tls.key_file", contents: "the certificate's private key", reader: reader)
            case "client_ca_file": clientCAFile = readableFile(value, what: "tls.client_ca_file", contents: "the CA certificates client certificates must chain to", reader: reader)
            case "min_version":
                guard let text = reader.string(value, what: "tls.min_version") else { continue }
                guard let version = TLSVersion(rawValue: text) else {
                    reader.report(value, "tls.min_version '\(text)' is not a TLS version this gateway speaks", hint: "write \"1.2\" or \"1.3\" (quoted, so YAML reads it as text)")
                    continue
                }
                minVersion = version
            default: break
            }
        }
        for (key, present) in [("cert_file", fields.contains { $0.key == "cert_file" }), ("key_file", fields.contains { $0.key == "key_file" })] where !present {
            reader.report(keyNode, "tls has no \(key)", hint: "tls needs both cert_file and key_file (PEM files, relative to this spec)")
        }
        guard let certFile, let keyFile else { return nil }
        return TLSSpec(certFile: certFile, keyFile: keyFile, minVersion: minVersion, clientCAFile: clientCAFile, location: reader.location(of: keyNode))
    }

    static func readHTTP2(_ node: Node, reader: YAMLReader) -> HTTP2Spec {
        var http2 = HTTP2Spec()
        if node.scalar != nil {
            http2.enabled = reader.bool(node, what: "http2")
            return http2
        }
        guard let fields = reader.mapping(node, what: "http2", allowed: http2Keys) else { return http2 }
        http2.enabled = true
        for (key, _, value) in fields {
            switch key {
            case "enabled": http2.enabled = reader.bool(value, what: "http2.enabled") ?? true
            case "max_concurrent_streams": http2.maxConcurrentStreams = reader.positiveInt(value, what: "http2.max_concurrent_streams") ?? http2.maxConcurrentStreams
            case "max_resets": http2.maxResets = reader.positiveInt(value, what: "http2.max_resets") ?? http2.maxResets
            case "reset_window": http2.resetWindow = reader.duration(value, what: "http2.reset_window") ?? http2.resetWindow
            default: break
            }
        }
        return http2
    }

    /// A file path relative to the spec, reported at its line when it cannot be read.
    private static func readableFile(_ node: Node, what: String, contents: String, reader: YAMLReader) -> String? {
        guard let relative = reader.string(node, what: what) else { return nil }
        let path = resolve(relative, reader: reader)
        guard FileManager.default.isReadableFile(atPath: path) else {
            reader.report(node, "\(what) '\(path)' cannot be read", hint: "give a PEM file with \(contents), relative to this spec")
            return nil
        }
        return path
    }
}
