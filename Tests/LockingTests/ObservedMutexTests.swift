import Foundation
import Locking
import Testing

@Suite("ObservedMutex")
struct ObservedMutexTests {
    @Test("increments from many threads are all kept")
    func contended() {
        let counter = ObservedMutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == 80_000)
    }

    @Test("a throwing body changes what it changed before throwing, and the lock is free afterwards")
    func throwing() {
        struct Stop: Error {}
        let value = ObservedMutex([1])
        #expect(throws: Stop.self) {
            try value.withLock { (array: inout [Int]) throws(Stop) in
                array.append(2)
                throw Stop()
            }
        }
        #expect(value.withLock { $0 } == [1, 2])
    }
}
