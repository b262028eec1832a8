import Foundation

@testable import NormCore

/// The cases written by `Fixtures/generate_golden.py` (float64 NumPy reference).
struct GoldenFixture: Decodable {
    struct Step: Decodable {
        let mode: String
        let input: [Int]
        let expected: [Int]
        let running_mean: [Double]?
        let running_var: [Double]?
        let batches: Int64?
    }

    struct Case: Decodable {
        let name: String
        let kind: String
        let dtype: String
        let out_dtype: String
        let layout: String
        let shape: [Int]
        let groups: Int
        let eps: Double
        let momentum: MomentumValue
        let track: Bool
        let weight: [Float]?
        let bias: [Float]?
        let steps: [Step]
        /// Absent for torch.nn's biased variance.
        let variance: String?

        var settings: NormSettings {
            NormSettings(
                kind: NormKind(rawValue: kind)!, groups: groups, eps: eps, momentum: momentum.value, trackRunningStats: track,
                variance: variance.flatMap(VarianceEstimator.init) ?? .biased)
        }
        var affine: Affine? { weight.map { Affine(weight: $0, bias: bias!) } }
    }

    enum MomentumValue: Decodable {
        case factor(Double)
        case cumulative
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Double.self) { self = .factor(value) } else { self = .cumulative }
        }
        var value: Momentum {
            switch self {
            case .factor(let m): .factor(m)
            case .cumulative: .cumulative
            }
        }
    }

    let cases: [Case]
    let blob: Data

    static let shared: GoldenFixture = {
        let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let manifest = try! Data(contentsOf: directory.appendingPathComponent("golden.json"))
        struct Manifest: Decodable { let cases: [Case] }
        let cases = try! JSONDecoder().decode(Manifest.self, from: manifest).cases
        let blob = try! Data(contentsOf: directory.appendingPathComponent("golden.bin"))
        return GoldenFixture(cases: cases, blob: blob)
    }()

    func bytes(_ range: [Int]) -> [UInt8] {
        [UInt8](blob[range[0]..<(range[0] + range[1])])
    }

    func doubles(_ range: [Int]) -> [Double] {
        bytes(range).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    }
}

/// Reads any dtype's payload back as Double, independently of the kernels' own loaders.
func decodeValues(_ bytes: [UInt8], _ dtype: DType) -> [Double] {
    bytes.withUnsafeBytes { raw in
        let count = raw.count / dtype.itemSize
        return (0..<count).map { i in
            switch dtype {
            case .float32: Double(raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
            case .float64: raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
            case .float16: Double(raw.loadUnaligned(fromByteOffset: i * 2, as: Float16.self))
            case .bfloat16: Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16))
            }
        }
    }
}

/// How far an output in `dtype` may sit from the float64 reference: the dtype's rounding of
/// the result plus float32-level error in the arithmetic.
func outputTolerance(_ dtype: DType, _ expected: Double) -> Double {
    switch dtype {
    case .float64: 1e-9 * max(1, abs(expected))
    case .float32: 1e-5 * max(1, abs(expected))
    case .float16: 1e-3 * max(1, abs(expected))
    case .bfloat16: 8e-3 * max(1, abs(expected))
    }
}
