// Turns runtime dtypes into statically specialized kernel calls: every combination below is
// compiled as its own loop, which is what lets `-O` vectorize them.
extension Normalizer {
    static func moments(_ base: UnsafeRawPointer, _ dtype: DType, plan: BatchPlan, runner: ParallelRunner, finiteOnly: Bool) -> [Moments] {
        switch dtype {
        case .float32: StatisticsKernel.moments(Float32Element.self, base, plan: plan, runner: runner, finiteOnly: finiteOnly)
        case .float64: StatisticsKernel.moments(Float64Element.self, base, plan: plan, runner: runner, finiteOnly: finiteOnly)
        case .float16: StatisticsKernel.moments(Float16Element.self, base, plan: plan, runner: runner, finiteOnly: finiteOnly)
        case .bfloat16: StatisticsKernel.moments(BFloat16Element.self, base, plan: plan, runner: runner, finiteOnly: finiteOnly)
        }
    }

    static func apply(
        _ input: UnsafeRawPointer, _ inputDType: DType, _ output: UnsafeMutableRawPointer, _ outputDType: DType,
        plan: BatchPlan, coefficients: Coefficients, runner: ParallelRunner, checkFinite: Bool
    ) -> Bool {
        switch inputDType {
        case .float32: apply(Float32Element.self, input, output, outputDType, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .float64: apply(Float64Element.self, input, output, outputDType, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .float16: apply(Float16Element.self, input, output, outputDType, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .bfloat16: apply(BFloat16Element.self, input, output, outputDType, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        }
    }

    private static func apply<In: StoredElement>(
        _: In.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, _ outputDType: DType,
        plan: BatchPlan, coefficients: Coefficients, runner: ParallelRunner, checkFinite: Bool
    ) -> Bool {
        switch outputDType {
        case .float32: apply(In.self, Float32Element.self, input, output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .float64: apply(In.self, Float64Element.self, input, output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .float16: apply(In.self, Float16Element.self, input, output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        case .bfloat16: apply(In.self, BFloat16Element.self, input, output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        }
    }

    private static func apply<In: StoredElement, Out: StoredElement>(
        _: In.Type, _: Out.Type, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
        plan: BatchPlan, coefficients: Coefficients, runner: ParallelRunner, checkFinite: Bool
    ) -> Bool {
        if In.self == Float64Element.self || Out.self == Float64Element.self {
            ApplyKernel.apply(In.self, Out.self, Double.self, input: input, output: output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        } else {
            ApplyKernel.apply(In.self, Out.self, Float.self, input: input, output: output, plan: plan, coefficients: coefficients, runner: runner, checkFinite: checkFinite)
        }
    }
}

extension Normalizer {
    static func fused(
        _ input: UnsafeRawPointer, _ inputDType: DType, _ output: UnsafeMutableRawPointer, _ outputDType: DType,
        plan: BatchPlan, eps: Double, affine: Affine?, runner: ParallelRunner
    ) -> Bool {
        switch (inputDType, outputDType) {
        case (.float32, .float32): FusedKernel.normalize(Float32Element.self, Float32Element.self, Float.self, input: input, output: output, plan: plan, eps: eps, affine: affine, runner: runner)
        case (.float16, .float16): FusedKernel.normalize(Float16Element.self, Float16Element.self, Float.self, input: input, output: output, plan: plan, eps: eps, affine: affine, runner: runner)
        case (.bfloat16, .bfloat16): FusedKernel.normalize(BFloat16Element.self, BFloat16Element.self, Float.self, input: input, output: output, plan: plan, eps: eps, affine: affine, runner: runner)
        case (.float64, .float64): FusedKernel.normalize(Float64Element.self, Float64Element.self, Double.self, input: input, output: output, plan: plan, eps: eps, affine: affine, runner: runner)
        default: false
        }
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
