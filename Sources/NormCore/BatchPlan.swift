/// How one batch maps onto memory and onto statistic partitions.
///
/// Statistics are gathered per *partition* — a channel for batch, a (sample, channel) for
/// instance, a (sample, group) for group, a sample for layer. Memory is always swept in order:
/// NCHW with spatial extent > 1 as *runs* (contiguous blocks of one partition), NHWC and
/// `[N, C]` as *rows* of C channels.
struct BatchPlan: Sendable {
    let kind: NormKind
    let geometry: TensorGeometry
    let layout: TensorLayout
    let groups: Int

    var batch: Int { geometry.batch }
    var channels: Int { geometry.channels }
    var spatial: Int { geometry.spatial }

    /// NHWC memory, or `[N, C]` where both layouts coincide.
    var sweepsRows: Bool { layout == .nhwc || spatial == 1 }

    var partitionCount: Int {
        switch kind {
        case .batch: channels
        case .instance: batch * channels
        case .group: batch * groups
        case .layer: batch
        }
    }

    func partition(sample: Int, channel: Int) -> Int {
        switch kind {
        case .batch: channel
        case .instance: sample * channels + channel
        case .group: sample * groups + channel / (channels / groups)
        case .layer: sample
        }
    }

    /// Whether a partition's statistics depend on the sample (everything but batch).
    var partitionsPerSample: Bool { kind != .batch }

    /// Length of one NCHW run: the contiguous elements of one partition within a sample.
    var runLength: Int {
        switch kind {
        case .batch, .instance: spatial
        case .group: channels / groups * spatial
        case .layer: channels * spatial
        }
    }

    func partition(ofRun run: Int) -> Int {
        kind == .batch ? run % channels : run
    }
}
