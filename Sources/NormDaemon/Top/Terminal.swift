import Foundation

/// The controlling terminal for `normd top`: keys read one at a time without echo, drawing on the
/// alternate screen with the cursor hidden. `restore` puts everything back, once, and runs on
/// every way out (the caller's `defer`, and `deinit`).
final class Terminal {
    private var saved = termios()
    private var restored = false

    /// Whether both stdin and stdout are a terminal.
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    init() throws {
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw TopError("cannot read the terminal's settings: \(String(cString: strerror(errno)))") }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { throw TopError("cannot set the terminal: \(String(cString: strerror(errno)))") }
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    /// Shows the cursor, leaves the alternate screen and puts the settings back.
    func restore() {
        guard !restored else { return }
        restored = true
        write("\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }

    deinit { restore() }

    /// Replaces the screen with `frame`.
    func draw(_ frame: String) { write("\u{1B}[H\u{1B}[2J" + frame.replacingOccurrences(of: "\n", with: "\r\n")) }

    /// The terminal's width in columns (80 when it cannot say).
    var width: Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// A key pressed within `milliseconds`, or nil.
    func key(within milliseconds: Int32) -> UInt8? {
        var item = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&item, 1, milliseconds) > 0 else { return nil }
        var byte: UInt8 = 0
        return read(STDIN_FILENO, &byte, 1) == 1 ? byte : nil
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
