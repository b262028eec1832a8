/// One apply pass over a batch, cut into pieces that any thread may run in any order, with the
/// constants rounded to the compute precision once, in memory this object owns. The constants
/// are only read once built; each piece writes its own part of the output and its own
/// `finite` slot.
final class ApplyPass<In: StoredElement, Out: StoredElement, S: ComputeScalar> {
    let pieces: Int
    private let input: UnsafeRawPointer
    private let output: UnsafeMutableRawPointer
    private let plan: BatchPlan
    private let checkFinite: Bool
    private let constants: UnsafeMutableBufferPointer<S>
    private let table: ApplyKernel.CoefficientTable<S>
    private let elementAffine: (weight: [S], bias: [S])?
    private let finite: UnsafeMutableBufferPointer<Bool>

    init(
        _: In.Type, _: Out.Type, _: S.Type, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
        plan: BatchPlan, coefficients: Coefficients, pieces: Int, checkFinite: Bool
    ) {
        self.input = input
        self.output = output
        self.plan = plan
        self.pieces = pieces
        self.checkFinite = checkFinite
        let constants = UnsafeMutableBufferPointer<S>.allocate(capacity: 4 * coefficients.count)
        self.constants = constants
        table = Self.table(coefficients, in: constants)
        elementAffine = Self.elementAffine(coefficients)
        finite = .allocate(capacity: max(pieces, 1))
        finite.initialize(repeating: true)
    }

    deinit {
        constants.deallocate()
        finite.deallocate()
    }

    /// The constants rounded to `S` in `constants` (4 × their count), as the apply sweeps read them.
    static func table(_ coefficients: Coefficients, in constants: UnsafeMutableBufferPointer<S>) -> ApplyKernel.CoefficientTable<S> {
        let count = coefficients.count
        for i in 0..<count {
            constants[i] = S(coefficients.hi(i))
            constants[count + i] = S(coefficients.lo(i))
            constants[2 * count + i] = S(coefficients.scale(i))
            constants[3 * count + i] = S(coefficients.beta(i))
        }
        func column(_ index: Int) -> UnsafeBufferPointer<S> {
            UnsafeBufferPointer(rebasing: constants[(index * count)..<((index + 1) * count)])
        }
        return ApplyKernel.CoefficientTable(hi: column(0), lo: column(1), scale: column(2), beta: column(3), perSample: coefficients.perSample)
    }

    static func elementAffine(_ coefficients: Coefficients) -> (weight: [S], bias: [S])? {
        guard let weight = coefficients.elementWeight, let bias = coefficients.elementBias else { return nil }
        return (weight.map { S($0) }, bias.map { S($0) })
    }

    /// The table (and per-element affine) in temporary memory, for a sweep run inside `body`.
    static func withTable<R>(_ coefficients: Coefficients, _ body: (ApplyKernel.CoefficientTable<S>, (weight: [S], bias: [S])?) -> R) -> R {
        withUnsafeTemporaryAllocation(of: S.self, capacity: 4 * coefficients.count) { constants in
            body(table(coefficients, in: constants), elementAffine(coefficients))
        }
    }

    func sweep(_ piece: Int) {
        finite[piece] = ApplyKernel.sweep(In.self, Out.self, input, output, plan: plan, table: table, elementAffine: elementAffine,
                                          piece: piece, of: pieces, checkFinite: checkFinite)
    }

    /// Whether every output value was finite (always true unless built with `checkFinite`).
    var allFinite: Bool { finite.allSatisfy { $0 } }
}
