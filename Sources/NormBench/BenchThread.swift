import Foundation
import Locking

/// A thread whose body's result `join()` returns (or rethrows).
final class BenchThread<Value: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let outcome = ObservedMutex<Result<Value, any Error>?>(nil)

    init(_ name: String, _ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    func join() throws -> Value {
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}
