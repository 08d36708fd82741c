import Foundation

/// The messages of `inventory.v1.Inventory` (bff-specs/protos/inventory.proto), encoded and decoded by
/// hand the way generated code would: the demo service is a separate program from the gateway and
/// shares none of its protobuf code, so the gateway's transcoding is checked against an independent
/// encoder.
enum InventoryMessages {
    /// `GetStockRequest`: field 1, `string product_id`.
    struct GetStockRequest: Equatable {
        var productID = ""
    }

    /// `inventory.v1.Availability`.
    enum Availability: UInt64 {
        case unspecified = 0
        case inStock = 1
        case lowStock = 2
        case soldOut = 3

        init(available: Int) {
            self = available == 0 ? .soldOut : available < 10 ? .lowStock : .inStock
        }
    }

    struct DecodeError: Error {}

    /// Decodes a `GetStockRequest`, skipping fields it does not know, as protobuf parsers do.
    static func decodeGetStockRequest(_ bytes: [UInt8]) throws(DecodeError) -> GetStockRequest {
        var reader = Reader(bytes: bytes)
        var request = GetStockRequest()
        while !reader.isAtEnd {
            let key = try reader.varint()
            let (field, wireType) = (key >> 3, key & 7)
            switch (field, wireType) {
            case (1, 2):
                guard let text = String(validating: try reader.lengthDelimited(), as: UTF8.self) else { throw DecodeError() }
                request.productID = text
            default:
                try reader.skip(wireType: wireType)
            }
        }
        return request
    }

    /// Encodes a `StockLevel`. `available` is proto3 `optional`, so it is written even when 0;
    /// the other scalars are left out at their defaults.
    static func encodeStockLevel(_ level: StockLevel) -> [UInt8] {
        var writer = Writer()
        writer.string(field: 1, level.product)
        writer.varint(field: 2, UInt64(bitPattern: Int64(level.available)), always: true)
        writer.varint(field: 3, Availability(available: level.available).rawValue)
        writer.string(field: 4, level.warehouse)
        if let eta = try? Date(level.restockETA, strategy: .iso8601) {
            let seconds = eta.timeIntervalSince1970.rounded(.down)
            var timestamp = Writer()
            timestamp.varint(field: 1, UInt64(bitPattern: Int64(seconds)))
            timestamp.varint(field: 2, UInt64((eta.timeIntervalSince1970 - seconds) * 1e9))
            writer.delimited(field: 5, timestamp.bytes)
        }
        return writer.bytes
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index >= bytes.count }

        mutating func varint() throws(DecodeError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard index < bytes.count else { throw DecodeError() }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte < 0x80 { return value }
            }
            throw DecodeError()
        }

        mutating func lengthDelimited() throws(DecodeError) -> ArraySlice<UInt8> {
            let length = try varint()
            guard length <= UInt64(bytes.count - index) else { throw DecodeError() }
            defer { index += Int(length) }
            return bytes[index..<index + Int(length)]
        }

        mutating func skip(wireType: UInt64) throws(DecodeError) {
            switch wireType {
            case 0: _ = try varint()
            case 1: try advance(8)
            case 2: _ = try lengthDelimited()
            case 5: try advance(4)
            default: throw DecodeError()
            }
        }

        private mutating func advance(_ count: Int) throws(DecodeError) {
            guard count <= bytes.count - index else { throw DecodeError() }
            index += count
        }
    }

    private struct Writer {
        var bytes: [UInt8] = []

        mutating func varint(field: UInt64, _ value: UInt64, always: Bool = false) {
            guard value != 0 || always else { return }
            raw(field << 3)
            raw(value)
        }

        mutating func string(field: UInt64, _ text: String) {
            guard !text.isEmpty else { return }
            delimited(field: field, Array(text.utf8))
        }

        mutating func delimited(field: UInt64, _ value: [UInt8]) {
            raw(field << 3 | 2)
            raw(UInt64(value.count))
            bytes += value
        }

        private mutating func raw(_ value: UInt64) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(rest & 0x7f) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }
    }
}
