/// Where a batch's apply constants are written as they are made: the `Coefficients` columns
/// (float64, kept for the apply pass's pieces) or an apply table in the compute precision
/// (`ApplyTableWriter`, in temporary memory, for a batch applied in one piece).
protocol CoefficientSink {
    /// The next constant: `y = ((x − hi) − lo)·scale + beta`.
    mutating func append(hi: Double, lo: Double, scale: Double, beta: Double)
}

/// How many constants a batch has and what they are indexed by.
struct CoefficientLayout: Equatable {
    /// Whether index (n, c) is `n·C + c` (true) or just `c`.
    let perSample: Bool
    let count: Int
    /// Layer with a full `[C, *S]` affine: γ and β go per element, beside the constants.
    let elementAffine: Bool
}

/// Writes constants straight into a table of the compute precision, four columns of `count`,
/// rounded from float64 exactly as `ApplyPass.table` rounds a `Coefficients`'s columns.
struct ApplyTableWriter<S: ComputeScalar>: CoefficientSink {
    private let constants: UnsafeMutableBufferPointer<S>
    private let count: Int
    private var filled = 0

    /// `constants`: room for 4 × `count` values, which this fills.
    init(_ constants: UnsafeMutableBufferPointer<S>, count: Int) {
        precondition(constants.count >= 4 * count, "a table needs four columns")
        self.constants = constants
        self.count = count
    }

    mutating func append(hi: Double, lo: Double, scale: Double, beta: Double) {
        precondition(filled < count, "more constants than the table was made for")
        constants[filled] = S(hi)
        constants[count + filled] = S(lo)
        constants[2 * count + filled] = S(scale)
        constants[3 * count + filled] = S(beta)
        filled += 1
    }

    /// The filled table as the apply sweeps read it.
    func table(perSample: Bool) -> ApplyKernel.CoefficientTable<S> {
        precondition(filled == count, "a table read before it was filled")
        func column(_ index: Int) -> UnsafeBufferPointer<S> {
            UnsafeBufferPointer(rebasing: constants[(index * count)..<((index + 1) * count)])
        }
        return ApplyKernel.CoefficientTable(hi: column(0), lo: column(1), scale: column(2), beta: column(3), perSample: perSample)
    }
}
