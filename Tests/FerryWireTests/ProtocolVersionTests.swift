import FerryWire
import Testing

@Suite struct ProtocolVersionTests {
    typealias Range = ProtocolVersionRange

    @Test("this build speaks 1..1")
    func thisBuild() {
        #expect(Range.thisBuild == Range(lowest: 1, highest: 1))
    }

    @Test(
        "negotiation picks the highest common version",
        arguments: [
            (Range(lowest: 1, highest: 1), Range(lowest: 1, highest: 1), UInt32(1)),
            (Range(lowest: 1, highest: 3), Range(lowest: 1, highest: 2), UInt32(2)),
            (Range(lowest: 2, highest: 3), Range(lowest: 1, highest: 2), UInt32(2)),
            (Range(lowest: 1, highest: 1), Range(lowest: 1, highest: 4), UInt32(1)),
            (Range(lowest: 0, highest: 1), Range(lowest: 1, highest: 1), UInt32(1)),
        ])
    func overlapping(peer: Range, ours: Range, chosen: UInt32) {
        #expect(Range.negotiate(peer: peer, ours: ours) == chosen)
    }

    @Test(
        "no common version gives nil",
        arguments: [
            (Range(lowest: 2, highest: 3), Range(lowest: 1, highest: 1)),
            (Range(lowest: 0, highest: 0), Range(lowest: 1, highest: 1)),
            (Range(lowest: 3, highest: 1), Range(lowest: 1, highest: 3)),  // peer's range is empty
        ])
    func disjoint(peer: Range, ours: Range) {
        #expect(Range.negotiate(peer: peer, ours: ours) == nil)
    }
}
