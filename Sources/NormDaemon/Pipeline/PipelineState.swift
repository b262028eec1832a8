import Foundation
import Locking
import NormCore
import Synchronization

/// What outlives one run of a pipeline's sockets: its statistics, mode and counters. A reload
/// that keeps a pipeline's kind, channels and stats scope hands this to the new run.
public final class PipelineState: Sendable {
    public let name: String
    public let store: StatisticsStore
    public let affine: Affine?
    public let counters: PipelineCounters
    /// The mode, and how many times it was set.
    private let currentMode: ObservedMutex<(mode: NormMode, changes: UInt64)>
    /// The `revision` the state file last written holds; nil before the first write.
    let writtenRevision = ObservedMutex<UInt64?>(nil)
    /// The mode the configuration said when this state was set up (state files keep it).
    public let configuredMode: NormMode

    public init(
        name: String, store: StatisticsStore, affine: Affine?, mode: NormMode, configuredMode: NormMode,
        counters: PipelineCounters = PipelineCounters()
    ) {
        self.name = name
        self.counters = counters
        self.store = store
        self.affine = affine
        self.currentMode = ObservedMutex((mode, 0))
        self.configuredMode = configuredMode
    }

    public var mode: NormMode {
        get { currentMode.withLock { $0.mode } }
        set { currentMode.withLock { $0 = (newValue, $0.changes &+ 1) } }
    }

    /// Grows with every change a state file holds (statistics, mode); equal means unchanged.
    public var revision: UInt64 { store.revision &+ currentMode.withLock { $0.changes } }
}
