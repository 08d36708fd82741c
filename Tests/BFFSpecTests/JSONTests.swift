import BFFSpec
import Testing

/// The error `JSONParser.parse` throws for `text`, or nil when it parses.
private func parseError(_ text: String) -> JSONSyntaxError? {
    do throws(JSONSyntaxError) {
        _ = try JSONParser.parse(text)
        return nil
    } catch {
        return error
    }
}

/// The error `JSONParser.validate` throws for `text`, or nil when it is valid.
private func validationError(_ text: String, maxDepth: Int = 128) -> JSONSyntaxError? {
    Array(text.utf8).withUnsafeBytes { buffer -> JSONSyntaxError? in
        do throws(JSONSyntaxError) {
            try JSONParser.validate(buffer, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }
}

@Suite("JSONParser")
struct JSONParserTests {
    @Test("a document with every kind of value parses, keeping member order")
    func parsesDocument() throws {
        let text = #" { "b": [1, -2.5e3, true, false, null, "x"], "a": {"nested": {}}, "e": [] } "#
        let value = try JSONParser.parse(text)

        let expected: JSONValue = ["b": [1, -2500, true, false, nil, "x"], "a": ["nested": [:]], "e": []]
        #expect(value == expected)
        guard case .object(let members) = value else {
            Issue.record("expected an object, got \(value)")
            return
        }
        #expect(members.map(\.0) == ["b", "a", "e"])
        #expect(value.value(at: ["b", "5"]) == "x")
        #expect(value.value(at: ["a", "nested"]) == [:])
        #expect(value.value(at: ["b", "9"]) == nil)
        #expect(validationError(text) == nil)
    }

    @Test("scalars are documents too", arguments: ["0", "-0", "1.5", "1E+2", "\"\"", "true", "null", " [ ] ", "{}"])
    func scalarDocuments(text: String) {
        #expect(parseError(text) == nil)
        #expect(validationError(text) == nil)
    }

    @Test("numbers keep the exact text they were written with")
    func numbersAsText() throws {
        let text = #"[12345678901234567890123, 1.10, -0.0, 1e400, 2E-7]"#
        let value = try JSONParser.parse(text)

        #expect(value == .array([.numberText("12345678901234567890123"), .numberText("1.10"), .numberText("-0.0"), .numberText("1e400"), .numberText("2E-7")]))
        guard case .array(let items) = value, case .numberText(let big) = items.first else {
            Issue.record("expected numbers kept as text, got \(value)")
            return
        }
        #expect(big == "12345678901234567890123")
        #expect(value.jsonText == "[12345678901234567890123,1.10,-0.0,1e400,2E-7]")
    }

    @Test("escapes decode, including surrogate pairs", arguments: [
        (#""\u00e9""#, "é"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD83D\uDE00 ok""#, "😀 ok"),
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""raw é then \u0041""#, "raw é then A"),
        (#""\ud800""#, "\u{FFFD}"),
        (#""\ud83d\u0041""#, "\u{FFFD}A"),
    ])
    func unicodeEscapes(text: String, expected: String) throws {
        #expect(try JSONParser.parse(text) == .string(expected))
        #expect(validationError(text) == nil)
    }

    @Test("malformed documents are rejected by parse and validate", arguments: [
        "[1,]", "{\"a\":1,}", "[,1]", "\"abc", "\"a\u{01}b\"", "\"a\nb\"", "\"a\tb\"",
        "01", "[01]", "-01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity",
        "hello", "tru", "nul", "True", "[1 2]", "{a:1}", "{\"a\" 1}", "{\"a\":}", "[", "]", "{",
        "\"\\x\"", "\"\\u12G4\"", "\"\\u12\"", "", "   ", "1 2", "[1]]", "'a'",
    ])
    func rejected(text: String) {
        #expect(parseError(text) != nil, "parse accepted \(text.debugDescription)")
        #expect(validationError(text) != nil, "validate accepted \(text.debugDescription)")
    }

    @Test("errors say where and why")
    func errorPosition() throws {
        let error = try #require(parseError("[1,]"))
        #expect(error.offset == 3)
        #expect(error.description.contains("byte 3"))
        #expect(try #require(parseError("\"a\u{01}\"")).reason.contains("control character"))
        #expect(try #require(parseError("\"abc")).reason.contains("unterminated"))
    }

    @Test("nesting beyond the limit is rejected without exhausting the stack", arguments: [200, 100_000])
    func deepNesting(depth: Int) throws {
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try #require(parseError(text)).reason.contains("nesting"))
        #expect(try #require(validationError(text)).reason.contains("nesting"))

        let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try #require(parseError(objects)).reason.contains("nesting"))
        #expect(try #require(validationError(objects)).reason.contains("nesting"))
    }

    @Test("nesting within the limit is accepted")
    func moderateNesting() throws {
        let text = String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)
        #expect(parseError(text) == nil)
        #expect(validationError(text) == nil)
        #expect(validationError("[[1]]", maxDepth: 2) != nil)
        #expect(validationError("[[1]]", maxDepth: 3) == nil)
    }
}

@Suite("JSONValue writer")
struct JSONWriterTests {
    @Test("strings are escaped: quotes, backslashes, newlines and control characters")
    func escapesStrings() {
        let value: JSONValue = .string("say \"hi\"\\ \n\r\t\u{01}\u{1F} é/")
        #expect(value.jsonText == #""say \"hi\"\\ \n\r\t\u0001\u001f é/""#)
    }

    @Test("values serialise compactly, keeping member order")
    func writesValues() {
        let value: JSONValue = ["z": 1, "a": [1.5, true, nil, .numberText("10.00")], "k\"ey": [:], "n": .number(.infinity)]
        #expect(value.jsonText == #"{"z":1,"a":[1.5,true,null,10.00],"k\"ey":{},"n":null}"#)
    }

    @Test("write(to:) appends to the sink")
    func appendsToSink() {
        var bytes = Array("prefix:".utf8)
        JSONValue.array([1, "a"]).write(to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:[1,"a"]"#)
    }

    @Test("what the writer writes, the parser reads back unchanged", arguments: [
        JSONValue.string("quote \" backslash \\ newline \n return \r tab \t bell \u{07} nul \u{00} del \u{7F} emoji 😀"),
        ["user": ["id": "u1", "tags": ["a", "b"], "score": .numberText("9.50"), "ok": false, "none": nil]],
        [[], [:], [[[]]], ""],
    ])
    func roundTrip(value: JSONValue) throws {
        let text = value.jsonText
        #expect(try JSONParser.parse(text) == value)
        #expect(validationError(text) == nil)
        #expect(try JSONParser.parse(text).jsonText == text)
    }

    @Test("indented text puts each member on its own line, two spaces a level, and reads back unchanged")
    func writesIndented() throws {
        let value: JSONValue = ["a": [1, "x"], "e": [], "o": [:], "n": ["k": nil]]
        #expect(value.indentedJSONText == """
            {
              "a": [
                1,
                "x"
              ],
              "e": [],
              "o": {},
              "n": {
                "k": null
              }
            }
            """)
        #expect(try JSONParser.parse(value.indentedJSONText) == value)
    }

    @Test("template text of scalars")
    func templateText() {
        #expect(JSONValue.string("a b").templateText == "a b")
        #expect(JSONValue.number(3).templateText == "3")
        #expect(JSONValue.number(2.5).templateText == "2.5")
        #expect(JSONValue.numberText("007.0").templateText == "007.0")
        #expect(JSONValue.bool(true).templateText == "true")
        #expect(JSONValue.null.templateText == nil)
        #expect(JSONValue.array([]).templateText == nil)
    }
}
