import Foundation

/// Polls until `condition` holds (counters are updated just after a send returns, so a consumer
/// can see a message a moment before `stats` counts it). The timeout only bounds a failing test:
/// under ThreadSanitizer, with the whole suite sharing two cores, the daemon can be 20× slower
/// than on a quiet machine, so it is generous.
public func eventually(timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// A test that cannot go on, saying why.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
