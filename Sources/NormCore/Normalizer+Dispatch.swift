/// A kernel call that needs the batch's dtypes as static types: `Normalizer.specialized` turns
/// the runtime dtypes into one, so every combination is compiled as its own loop, which is what
/// lets `-O` vectorize them. `S` is the apply pass's precision: Double when float64 is involved.
protocol KernelCall {
    associatedtype Result
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> Result
}

extension Normalizer {
    static func specialized<Call: KernelCall>(_ input: DType, _ output: DType, _ call: Call) -> Call.Result {
        switch input {
        case .float32: specialized(Float32Element.self, output, call)
        case .float64: specialized(Float64Element.self, output, call)
        case .float16: specialized(Float16Element.self, output, call)
        case .bfloat16: specialized(BFloat16Element.self, output, call)
        }
    }

    private static func specialized<In: StoredElement, Call: KernelCall>(_: In.Type, _ output: DType, _ call: Call) -> Call.Result {
        switch output {
        case .float32: specialized(In.self, Float32Element.self, call)
        case .float64: specialized(In.self, Float64Element.self, call)
        case .float16: specialized(In.self, Float16Element.self, call)
        case .bfloat16: specialized(In.self, BFloat16Element.self, call)
        }
    }

    private static func specialized<In: StoredElement, Out: StoredElement, Call: KernelCall>(_: In.Type, _: Out.Type, _ call: Call) -> Call.Result {
        if In.self == Float64Element.self || Out.self == Float64Element.self {
            call(In.self, Out.self, Double.self)
        } else {
            call(In.self, Out.self, Float.self)
        }
    }
}

/// The statistics pass alone (`Out` and `S` are unused).
struct MomentsCall: KernelCall {
    let input: UnsafeRawPointer, plan: BatchPlan, runner: ParallelRunner, finiteOnly: Bool
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> [Moments] {
        StatisticsKernel.moments(In.self, input, plan: plan, runner: runner, finiteOnly: finiteOnly)
    }
}

/// The apply pass alone, with constants already made; returns whether every output was finite.
struct ApplyCall: KernelCall {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, plan: BatchPlan
    let coefficients: Coefficients, runner: ParallelRunner, checkFinite: Bool
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> Bool {
        ApplyKernel.apply(In.self, Out.self, S.self, input: input, output: output, plan: plan, coefficients: coefficients,
                          runner: runner, checkFinite: checkFinite)
    }
}

/// Statistics, constants and apply in one parallel run; returns false when `coefficients` did.
struct TwoPassCall: KernelCall {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, plan: BatchPlan, runner: ParallelRunner
    /// The caller's, for the length of the call.
    let constants: UnsafeMutablePointer<BatchConstants>
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> Bool {
        TwoPassKernel.normalize(In.self, Out.self, S.self, input: input, output: output, plan: plan, runner: runner, constants: &constants.pointee)
    }
}

/// Batch training a few channels at a time (`FusedBatchKernel`); returns false when `constants` refused the moments.
struct FusedBatchCall: KernelCall {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, plan: BatchPlan, perPiece: Int, runner: ParallelRunner
    /// The caller's, for the length of the call.
    let constants: UnsafeMutablePointer<BatchConstants>
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> Bool {
        FusedBatchKernel.normalize(
            In.self, Out.self, S.self, input: input, output: output, plan: plan, perPiece: perPiece, runner: runner, constants: &constants.pointee)
    }
}

/// Statistics and apply in one visit per partition; returns false on NaN or ±inf.
struct FusedCall: KernelCall {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, plan: BatchPlan
    let eps: Double, variance: VarianceEstimator, affine: Affine?, runner: ParallelRunner
    func callAsFunction<In: StoredElement, Out: StoredElement, S: ComputeScalar>(_: In.Type, _: Out.Type, _: S.Type) -> Bool {
        FusedKernel.normalize(In.self, Out.self, S.self, input: input, output: output, plan: plan, eps: eps, variance: variance,
                              affine: affine, runner: runner)
    }
}

/// `nonfinite = "pass"`: NaN and ±inf leave exactly as they came (converted to the output dtype).
enum NonFiniteRestore {
    static func restore(_ input: UnsafeRawPointer, _ inputDType: DType, _ output: UnsafeMutableRawPointer, _ outputDType: DType, count: Int) {
        let load = loader(inputDType), store = storer(outputDType)
        for i in 0..<count {
            let x = load(input, i)
            if !x.isFinite { store(x, output, i) }
        }
    }

    static func loader(_ dtype: DType) -> (UnsafeRawPointer, Int) -> Double {
        switch dtype {
        case .float32: Float32Element.loadDouble
        case .float64: Float64Element.loadDouble
        case .float16: Float16Element.loadDouble
        case .bfloat16: BFloat16Element.loadDouble
        }
    }

    static func storer(_ dtype: DType) -> (Double, UnsafeMutableRawPointer, Int) -> Void {
        switch dtype {
        case .float32: Float32Element.storeDouble
        case .float64: Float64Element.storeDouble
        case .float16: Float16Element.storeDouble
        case .bfloat16: BFloat16Element.storeDouble
        }
    }
}
