import Foundation

/// A Dockerfile read into stages of instructions: continuation lines joined, comments dropped.
struct Dockerfile {
    struct Instruction {
        /// Upper-cased: `RUN`, `COPY`, `ENV`.
        let keyword: String
        let arguments: String
        let line: Int

        /// An exec-form argument list (`["a", "b"]`), nil for the shell form.
        var execForm: [String]? {
            guard arguments.hasPrefix("[") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String]
        }

        /// Whitespace-separated words, flags (`--from=build`) included.
        var words: [String] { arguments.split(whereSeparator: \.isWhitespace).map(String.init) }

        /// A COPY's sources and destination, without its flags.
        var copyPaths: (sources: [String], destination: String)? {
            let paths = words.filter { !$0.hasPrefix("--") }
            guard keyword == "COPY", let destination = paths.last else { return nil }
            return (Array(paths.dropLast()), destination)
        }

        /// The value of a `--name=value` flag.
        func flag(_ name: String) -> String? {
            words.first { $0.hasPrefix("--\(name)=") }.map { String($0.dropFirst(name.count + 3)) }
        }
    }

    struct Stage {
        /// The image or stage it starts from, with global ARG defaults substituted.
        let base: String
        let name: String?
        var instructions: [Instruction] = []

        func all(_ keyword: String) -> [Instruction] { instructions.filter { $0.keyword == keyword } }

        /// `ENV` pairs, later ones winning.
        var environment: [String: String] {
            var pairs: [String: String] = [:]
            for instruction in all("ENV") {
                for word in instruction.words {
                    let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { pairs[parts[0]] = parts[1] }
                }
            }
            return pairs
        }
    }

    /// ARGs declared before the first FROM, with their defaults.
    private(set) var globalArguments: [String: String] = [:]
    private(set) var stages: [Stage] = []

    init(text: String) {
        var logical: [(text: String, line: Int)] = []
        var pending = ""
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && pending.isEmpty) { continue }
            if pending.isEmpty { start = index + 1 }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
            } else {
                logical.append((pending + line, start))
                pending = ""
            }
        }
        for (text, line) in logical where !text.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = text.split(maxSplits: 1, whereSeparator: \.isWhitespace)
            let instruction = Instruction(
                keyword: parts[0].uppercased(),
                arguments: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "",
                line: line
            )
            if instruction.keyword == "FROM" {
                let words = instruction.words
                stages.append(Stage(base: substitute(words.first ?? ""), name: words.count >= 3 && words[1].uppercased() == "AS" ? words[2] : nil))
            } else if stages.isEmpty {
                if instruction.keyword == "ARG" {
                    let parts = instruction.arguments.split(separator: "=", maxSplits: 1).map(String.init)
                    globalArguments[parts[0]] = parts.count == 2 ? parts[1] : ""
                }
            } else {
                stages[stages.count - 1].instructions.append(instruction)
            }
        }
    }

    func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// The stage chain a stage builds on, itself first (`client` -> `runtime`), ending at an image.
    func lineage(of stage: Stage) -> [Stage] {
        var chain = [stage]
        while let parent = self.stage(chain[chain.count - 1].base), chain.count <= stages.count {
            chain.append(parent)
        }
        return chain
    }

    private func substitute(_ text: String) -> String {
        var result = text
        for (name, value) in globalArguments {
            result = result.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
        }
        return result
    }
}
