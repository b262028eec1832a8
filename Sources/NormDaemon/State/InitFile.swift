import Foundation
import NormCore
import NormFormats

/// An `init` safetensors file (e.g. a trained PyTorch module's state_dict): weight, bias,
/// running_mean, running_var and num_batches_tracked, unprefixed, seeding every key.
public struct InitFile: Sendable, Equatable {
    public var affine: Affine?
    public var statistics: RunningStatistics?

    /// Reads and checks names and shapes against the pipeline's configuration.
    public static func load(path: String, norm: NormConfiguration, spatial: Int? = nil) throws(DaemonError) -> InitFile {
        let data: [UInt8]
        switch FileContents.safetensors(path, limit: FileContents.initLimit) {
        case .success(let bytes): data = bytes
        case .failure(let failure) where failure.isMalformed: throw DaemonError(.configuration, "init file \(path) is not safetensors: \(failure)")
        case .failure(let failure): throw DaemonError(.configuration, "init file \(path) cannot be read: \(failure)")
        }
        let file: SafeTensors
        do {
            file = try SafeTensors.decode(data)
        } catch {
            throw DaemonError(.configuration, "init file \(path) is not safetensors: \(error.message)")
        }
        let channels = norm.channels
        func vector(_ name: String) throws(DaemonError) -> [Double]? {
            guard let tensor = file.tensors[ExactString(name)] else { return nil }
            guard tensor.dtype != .i64, let values = tensor.doubles else {
                throw DaemonError(.configuration, "init file \(path): \(name) must be F32, F64, F16 or BF16")
            }
            let fullLayer = norm.kind == .layer && (name == "weight" || name == "bias") && tensor.shape.first == channels && tensor.shape.count > 1
            guard tensor.shape == [channels] || fullLayer else {
                throw DaemonError(.configuration, "init file \(path): \(name) has shape \(tensor.shape), expected [\(channels)]")
            }
            return values
        }
        var result = InitFile()
        let weight = try vector("weight")
        let bias = try vector("bias")
        if weight != nil || bias != nil {
            guard let weight, let bias, weight.count == bias.count else {
                throw DaemonError(.configuration, "init file \(path): weight and bias come together, with the same shape")
            }
            guard norm.affine else { throw DaemonError(.configuration, "init file \(path) has weight and bias but affine = false") }
            result.affine = Affine(weight: weight.map(Float.init), bias: bias.map(Float.init))
        }
        let mean = try vector("running_mean")
        let variance = try vector("running_var")
        if mean != nil || variance != nil {
            guard let mean, let variance else {
                throw DaemonError(.configuration, "init file \(path): running_mean and running_var come together")
            }
            guard norm.settings.hasRunningStatistics else {
                throw DaemonError(.configuration, "init file \(path) has running statistics but kind \(norm.kind.rawValue) keeps none")
            }
            var count: Int64 = 0
            if let tensor = file.tensors["num_batches_tracked"] {
                guard let value = tensor.int64Scalar else {
                    throw DaemonError(.configuration, "init file \(path): num_batches_tracked must be an I64 scalar")
                }
                count = value
            }
            let statistics = RunningStatistics(mean: mean, variance: variance, batchesTracked: count)
            if let problem = statistics.problem {
                throw DaemonError(.configuration, "init file \(path): \(problem)")
            }
            result.statistics = statistics
        }
        if let affine = result.affine, let index = (affine.weight + affine.bias).firstIndex(where: { !$0.isFinite }) {
            let name = index < affine.weight.count ? "weight" : "bias"
            throw DaemonError(.configuration, "init file \(path): \(name) holds a non-finite value (NaN or inf); every value must be finite")
        }
        let known: Set<String> = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
        if let unknown = file.tensors.keys.sorted().first(where: { !known.contains($0.string) }) {
            throw DaemonError(.configuration, "init file \(path): unexpected tensor \"\(unknown)\" (expected \(known.sorted().joined(separator: ", ")))")
        }
        // A file that seeds nothing is not what `init` was set for (a wrong or truncated export).
        if result.statistics == nil && file.tensors["num_batches_tracked"] != nil {
            throw DaemonError(.configuration, "init file \(path): num_batches_tracked without running_mean and running_var")
        }
        if result.affine == nil && result.statistics == nil {
            throw DaemonError(.configuration, "init file \(path) holds none of weight and bias, running_mean and running_var: it would seed nothing")
        }
        return result
    }
}
