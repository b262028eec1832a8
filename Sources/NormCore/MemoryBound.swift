/// The kernel bound (docs/benchmarks.md): the fastest loop that reads the input twice and writes an
/// output of the same size once (SIMD loads and stores, a running SIMD sum only to keep the reads
/// alive), split across workers exactly as the normalization kernels split a batch.
public struct MemoryBound: Sendable {
    let runner: ParallelRunner

    public init(threads: Int) { runner = ParallelRunner(threads: threads) }

    /// Runs the bound over `input` (float32) into `output`; returns the sum to keep it alive.
    @discardableResult
    public func run(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Float {
        let count = input.count / 4
        let pieces = runner.pieces(forElements: count)
        let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: pieces)
        sums.initialize(repeating: 0)
        defer { sums.deallocate() }
        let shared = UncheckedSendable((input.baseAddress!, output.baseAddress!, sums))
        runner.forEachPiece(pieces, workers: runner.workers(forElements: count)) { piece in
            let (input, output, sums) = shared.value
            let range = ParallelRunner.share(piece, of: pieces, total: count)
            var a = SIMD8<Float>(), b = SIMD8<Float>()
            var i = range.lowerBound
            while i &+ 16 <= range.upperBound {
                a += input.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                b += input.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
                i &+= 16
            }
            i = range.lowerBound
            while i &+ 16 <= range.upperBound {
                let x = input.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                let y = input.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
                output.storeBytes(of: x, toByteOffset: i &* 4, as: SIMD8<Float>.self)
                output.storeBytes(of: y, toByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
                i &+= 16
            }
            sums[piece] = (a + b).sum()
        }
        return sums.reduce(0, +)
    }
}
