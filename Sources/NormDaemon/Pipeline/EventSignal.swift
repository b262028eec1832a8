#if canImport(Glibc)
import Glibc
#endif

/// A self-pipe that lanes write to when they finish a batch, polled by the pipeline's loop next
/// to its sockets. Pipe reads and writes are atomic in the kernel, hence Sendable.
final class EventSignal: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    init() throws(DaemonError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw DaemonError(.system, "pipe failed", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    /// The descriptor to poll for readability.
    var fd: Int32 { readEnd }

    func signal() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)  // a full pipe already means "wake up"
    }

    func drain() {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &sink, sink.count) > 0 {}
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}
