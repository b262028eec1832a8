/// Per-(sample, channel) — or per-channel for batch — constants of `y = ((x − hi) − lo)·scale + beta`.
///
/// The mean is split into `hi + lo` so that a float32 apply pass keeps float64 accuracy of the
/// mean: `x − hi` is exact when x is near the mean, which is where precision matters.
struct Coefficients: CoefficientSink {
    /// How many constants of each kind there are.
    let count: Int
    /// hi, lo, scale and beta, a column of `count` each, in one allocation.
    private var columns: [Double]
    private var filled = 0
    /// For layer with a full `[C, *S]` affine: γ and β per element, in the tensor's memory order.
    var elementWeight: [Double]? = nil
    var elementBias: [Double]? = nil
    /// Whether index (n, c) is `n·C + c` (true) or just `c`.
    var perSample: Bool

    /// `count`: how many constants will be appended.
    init(perSample: Bool, count: Int) {
        self.perSample = perSample
        self.count = count
        columns = Array(repeating: 0, count: 4 * count)
    }

    mutating func append(hi: Double, lo: Double, scale: Double, beta b: Double) {
        precondition(filled < count, "more constants than the count they were made for")
        columns[filled] = hi
        columns[count + filled] = lo
        columns[2 * count + filled] = scale
        columns[3 * count + filled] = b
        filled += 1
    }

    func hi(_ i: Int) -> Double { columns[i] }
    func lo(_ i: Int) -> Double { columns[count + i] }
    func scale(_ i: Int) -> Double { columns[2 * count + i] }
    func beta(_ i: Int) -> Double { columns[3 * count + i] }
}
