import FerryWire
import Testing

@Suite struct CRC32CTests {
    @Test("check value of \"123456789\" is 0xE3069283")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("empty input gives 0")
    func empty() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test("known RFC 3720 vectors: 32 zero bytes and 32 0xFF bytes")
    func iscsiVectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test("incremental updates equal one call", arguments: [0, 1, 4, 5, 9])
    func incremental(split: Int) {
        let bytes = Array("123456789".utf8)
        var crc = CRC32C()
        crc.update(bytes[..<split])
        crc.update(bytes[split...])
        #expect(crc.value == 0xE306_9283)
    }
}
