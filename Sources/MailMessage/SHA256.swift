/// SHA-256 (FIPS 180-4), written here because Foundation on Linux has no CryptoKit and this
/// target depends on Foundation only. Incremental, so attachment bodies hash while streaming.
public struct SHA256: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    public init() { buffer.reserveCapacity(64) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var offset = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, bytes.count)
            buffer.append(contentsOf: bytes[0..<take])
            offset = take
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress($0, from: 0, blocks: 1) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        let blocks = (bytes.count - offset) / 64
        if blocks > 0 {
            compress(bytes, from: offset, blocks: blocks)
            offset += blocks * 64
        }
        if offset < bytes.count { buffer.append(contentsOf: bytes[offset...]) }
    }

    public mutating func update(_ bytes: some Collection<UInt8>) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) { return done }
        Array(bytes).withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var padding: [UInt8] = [0x80]
        let afterOne = (buffer.count + 1) % 64
        padding.append(contentsOf: repeatElement(0, count: afterOne <= 56 ? 56 - afterOne : 120 - afterOne))
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        let savedLength = length
        padding.withUnsafeBytes { update($0) }
        length = savedLength
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        return words.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> UInt32($0)) } }
    }

    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Lowercase hex of a digest (or any bytes): the project's one hex encoder. Without a formatter
    /// per byte: `String(format:)` cost more than the hashing.
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(max(64, digest.underestimatedCount * 2))
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compresses whole 64-byte blocks. The 64 rounds are written out with the eight working
    /// variables renamed instead of shifted, and the message schedule lives in sixteen locals:
    /// the optimiser then keeps everything in registers, which roughly halves the cycles per
    /// byte of a looped version.
    private mutating func compress(_ data: UnsafeRawBufferPointer, from offset: Int, blocks: Int) {
        guard let base = data.baseAddress, blocks > 0, offset + blocks * 64 <= data.count else { return }
        var (h0, h1, h2, h3, h4, h5, h6, h7) = state
        for block in 0..<blocks {
            let p = base + offset + block * 64
            @inline(__always) func word(_ i: Int) -> UInt32 { UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
            var w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3), w4 = word(4), w5 = word(5), w6 = word(6), w7 = word(7)
            var w8 = word(8), w9 = word(9), w10 = word(10), w11 = word(11), w12 = word(12), w13 = word(13), w14 = word(14), w15 = word(15)
            var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
                round(a, b, c, &d, e, f, g, &h, 0x428a2f98 &+ w0)
                round(h, a, b, &c, d, e, f, &g, 0x71374491 &+ w1)
                round(g, h, a, &b, c, d, e, &f, 0xb5c0fbcf &+ w2)
                round(f, g, h, &a, b, c, d, &e, 0xe9b5dba5 &+ w3)
                round(e, f, g, &h, a, b, c, &d, 0x3956c25b &+ w4)
                round(d, e, f, &g, h, a, b, &c, 0x59f111f1 &+ w5)
                round(c, d, e, &f, g, h, a, &b, 0x923f82a4 &+ w6)
                round(b, c, d, &e, f, g, h, &a, 0xab1c5ed5 &+ w7)
                round(a, b, c, &d, e, f, g, &h, 0xd807aa98 &+ w8)
                round(h, a, b, &c, d, e, f, &g, 0x12835b01 &+ w9)
                round(g, h, a, &b, c, d, e, &f, 0x243185be &+ w10)
                round(f, g, h, &a, b, c, d, &e, 0x550c7dc3 &+ w11)
                round(e, f, g, &h, a, b, c, &d, 0x72be5d74 &+ w12)
                round(d, e, f, &g, h, a, b, &c, 0x80deb1fe &+ w13)
                round(c, d, e, &f, g, h, a, &b, 0x9bdc06a7 &+ w14)
                round(b, c, d, &e, f, g, h, &a, 0xc19bf174 &+ w15)
                w0 = w0 &+ sigma0(w1) &+ w9 &+ sigma1(w14)
                round(a, b, c, &d, e, f, g, &h, 0xe49b69c1 &+ w0)
                w1 = w1 &+ sigma0(w2) &+ w10 &+ sigma1(w15)
                round(h, a, b, &c, d, e, f, &g, 0xefbe4786 &+ w1)
                w2 = w2 &+ sigma0(w3) &+ w11 &+ sigma1(w0)
                round(g, h, a, &b, c, d, e, &f, 0x0fc19dc6 &+ w2)
                w3 = w3 &+ sigma0(w4) &+ w12 &+ sigma1(w1)
                round(f, g, h, &a, b, c, d, &e, 0x240ca1cc &+ w3)
                w4 = w4 &+ sigma0(w5) &+ w13 &+ sigma1(w2)
                round(e, f, g, &h, a, b, c, &d, 0x2de92c6f &+ w4)
                w5 = w5 &+ sigma0(w6) &+ w14 &+ sigma1(w3)
                round(d, e, f, &g, h, a, b, &c, 0x4a7484aa &+ w5)
                w6 = w6 &+ sigma0(w7) &+ w15 &+ sigma1(w4)
                round(c, d, e, &f, g, h, a, &b, 0x5cb0a9dc &+ w6)
                w7 = w7 &+ sigma0(w8) &+ w0 &+ sigma1(w5)
                round(b, c, d, &e, f, g, h, &a, 0x76f988da &+ w7)
                w8 = w8 &+ sigma0(w9) &+ w1 &+ sigma1(w6)
                round(a, b, c, &d, e, f, g, &h, 0x983e5152 &+ w8)
                w9 = w9 &+ sigma0(w10) &+ w2 &+ sigma1(w7)
                round(h, a, b, &c, d, e, f, &g, 0xa831c66d &+ w9)
                w10 = w10 &+ sigma0(w11) &+ w3 &+ sigma1(w8)
                round(g, h, a, &b, c, d, e, &f, 0xb00327c8 &+ w10)
                w11 = w11 &+ sigma0(w12) &+ w4 &+ sigma1(w9)
                round(f, g, h, &a, b, c, d, &e, 0xbf597fc7 &+ w11)
                w12 = w12 &+ sigma0(w13) &+ w5 &+ sigma1(w10)
                round(e, f, g, &h, a, b, c, &d, 0xc6e00bf3 &+ w12)
                w13 = w13 &+ sigma0(w14) &+ w6 &+ sigma1(w11)
                round(d, e, f, &g, h, a, b, &c, 0xd5a79147 &+ w13)
                w14 = w14 &+ sigma0(w15) &+ w7 &+ sigma1(w12)
                round(c, d, e, &f, g, h, a, &b, 0x06ca6351 &+ w14)
                w15 = w15 &+ sigma0(w0) &+ w8 &+ sigma1(w13)
                round(b, c, d, &e, f, g, h, &a, 0x14292967 &+ w15)
                w0 = w0 &+ sigma0(w1) &+ w9 &+ sigma1(w14)
                round(a, b, c, &d, e, f, g, &h, 0x27b70a85 &+ w0)
                w1 = w1 &+ sigma0(w2) &+ w10 &+ sigma1(w15)
                round(h, a, b, &c, d, e, f, &g, 0x2e1b2138 &+ w1)
                w2 = w2 &+ sigma0(w3) &+ w11 &+ sigma1(w0)
                round(g, h, a, &b, c, d, e, &f, 0x4d2c6dfc &+ w2)
                w3 = w3 &+ sigma0(w4) &+ w12 &+ sigma1(w1)
                round(f, g, h, &a, b, c, d, &e, 0x53380d13 &+ w3)
                w4 = w4 &+ sigma0(w5) &+ w13 &+ sigma1(w2)
                round(e, f, g, &h, a, b, c, &d, 0x650a7354 &+ w4)
                w5 = w5 &+ sigma0(w6) &+ w14 &+ sigma1(w3)
                round(d, e, f, &g, h, a, b, &c, 0x766a0abb &+ w5)
                w6 = w6 &+ sigma0(w7) &+ w15 &+ sigma1(w4)
                round(c, d, e, &f, g, h, a, &b, 0x81c2c92e &+ w6)
                w7 = w7 &+ sigma0(w8) &+ w0 &+ sigma1(w5)
                round(b, c, d, &e, f, g, h, &a, 0x92722c85 &+ w7)
                w8 = w8 &+ sigma0(w9) &+ w1 &+ sigma1(w6)
                round(a, b, c, &d, e, f, g, &h, 0xa2bfe8a1 &+ w8)
                w9 = w9 &+ sigma0(w10) &+ w2 &+ sigma1(w7)
                round(h, a, b, &c, d, e, f, &g, 0xa81a664b &+ w9)
                w10 = w10 &+ sigma0(w11) &+ w3 &+ sigma1(w8)
                round(g, h, a, &b, c, d, e, &f, 0xc24b8b70 &+ w10)
                w11 = w11 &+ sigma0(w12) &+ w4 &+ sigma1(w9)
                round(f, g, h, &a, b, c, d, &e, 0xc76c51a3 &+ w11)
                w12 = w12 &+ sigma0(w13) &+ w5 &+ sigma1(w10)
                round(e, f, g, &h, a, b, c, &d, 0xd192e819 &+ w12)
                w13 = w13 &+ sigma0(w14) &+ w6 &+ sigma1(w11)
                round(d, e, f, &g, h, a, b, &c, 0xd6990624 &+ w13)
                w14 = w14 &+ sigma0(w15) &+ w7 &+ sigma1(w12)
                round(c, d, e, &f, g, h, a, &b, 0xf40e3585 &+ w14)
                w15 = w15 &+ sigma0(w0) &+ w8 &+ sigma1(w13)
                round(b, c, d, &e, f, g, h, &a, 0x106aa070 &+ w15)
                w0 = w0 &+ sigma0(w1) &+ w9 &+ sigma1(w14)
                round(a, b, c, &d, e, f, g, &h, 0x19a4c116 &+ w0)
                w1 = w1 &+ sigma0(w2) &+ w10 &+ sigma1(w15)
                round(h, a, b, &c, d, e, f, &g, 0x1e376c08 &+ w1)
                w2 = w2 &+ sigma0(w3) &+ w11 &+ sigma1(w0)
                round(g, h, a, &b, c, d, e, &f, 0x2748774c &+ w2)
                w3 = w3 &+ sigma0(w4) &+ w12 &+ sigma1(w1)
                round(f, g, h, &a, b, c, d, &e, 0x34b0bcb5 &+ w3)
                w4 = w4 &+ sigma0(w5) &+ w13 &+ sigma1(w2)
                round(e, f, g, &h, a, b, c, &d, 0x391c0cb3 &+ w4)
                w5 = w5 &+ sigma0(w6) &+ w14 &+ sigma1(w3)
                round(d, e, f, &g, h, a, b, &c, 0x4ed8aa4a &+ w5)
                w6 = w6 &+ sigma0(w7) &+ w15 &+ sigma1(w4)
                round(c, d, e, &f, g, h, a, &b, 0x5b9cca4f &+ w6)
                w7 = w7 &+ sigma0(w8) &+ w0 &+ sigma1(w5)
                round(b, c, d, &e, f, g, h, &a, 0x682e6ff3 &+ w7)
                w8 = w8 &+ sigma0(w9) &+ w1 &+ sigma1(w6)
                round(a, b, c, &d, e, f, g, &h, 0x748f82ee &+ w8)
                w9 = w9 &+ sigma0(w10) &+ w2 &+ sigma1(w7)
                round(h, a, b, &c, d, e, f, &g, 0x78a5636f &+ w9)
                w10 = w10 &+ sigma0(w11) &+ w3 &+ sigma1(w8)
                round(g, h, a, &b, c, d, e, &f, 0x84c87814 &+ w10)
                w11 = w11 &+ sigma0(w12) &+ w4 &+ sigma1(w9)
                round(f, g, h, &a, b, c, d, &e, 0x8cc70208 &+ w11)
                w12 = w12 &+ sigma0(w13) &+ w5 &+ sigma1(w10)
                round(e, f, g, &h, a, b, c, &d, 0x90befffa &+ w12)
                w13 = w13 &+ sigma0(w14) &+ w6 &+ sigma1(w11)
                round(d, e, f, &g, h, a, b, &c, 0xa4506ceb &+ w13)
                w14 = w14 &+ sigma0(w15) &+ w7 &+ sigma1(w12)
                round(c, d, e, &f, g, h, a, &b, 0xbef9a3f7 &+ w14)
                w15 = w15 &+ sigma0(w0) &+ w8 &+ sigma1(w13)
                round(b, c, d, &e, f, g, h, &a, 0xc67178f2 &+ w15)
            h0 = h0 &+ a; h1 = h1 &+ b; h2 = h2 &+ c; h3 = h3 &+ d
            h4 = h4 &+ e; h5 = h5 &+ f; h6 = h6 &+ g; h7 = h7 &+ h
        }
        state = (h0, h1, h2, h3, h4, h5, h6, h7)
    }
}

@inline(__always)
private func sigma0(_ x: UInt32) -> UInt32 { x.rotatedRight(7) ^ x.rotatedRight(18) ^ (x >> 3) }
@inline(__always)
private func sigma1(_ x: UInt32) -> UInt32 { x.rotatedRight(17) ^ x.rotatedRight(19) ^ (x >> 10) }

/// One round of FIPS 180-4 section 6.2.2 with the roles passed in: only d and h change.
/// `kw` is the round constant plus the schedule word.
@inline(__always)
private func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32) {
    let t1 = h &+ (e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)) &+ (g ^ (e & (f ^ g))) &+ kw
    d = d &+ t1
    // Majority as ((a ^ b) & (b ^ c)) ^ b: b ^ c is the previous round's a ^ b, which the
    // optimiser reuses once the rounds are unrolled.
    h = t1 &+ (a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)) &+ (((a ^ b) & (b ^ c)) ^ b)
}

extension UInt32 {
    @inline(__always) func rotatedRight(_ count: UInt32) -> UInt32 { (self >> count) | (self << (32 - count)) }
}
