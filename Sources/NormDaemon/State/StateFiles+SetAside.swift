import Foundation

extension StateFiles {
    /// Moves a pipeline's files aside — its state file, the previous generation and the eviction
    /// archive — under names holding `set-aside-<UTC time>`, so that a pipeline starting fresh
    /// (its files are of another kind or stats scope) overwrites nothing an operator may want
    /// back: putting the configuration back and renaming the files restores them. A name already
    /// taken gets a counter. Returns the new paths.
    func setAside(pipeline: String, at date: Date = Date()) throws(DaemonError) -> [String] {
        var time = tm()
        var seconds = time_t(date.timeIntervalSince1970)
        gmtime_r(&seconds, &time)
        let stamp = String(
            format: "%04d%02d%02dT%02d%02d%02dZ", Int(time.tm_year) + 1900, Int(time.tm_mon) + 1, Int(time.tm_mday), Int(time.tm_hour),
            Int(time.tm_min), Int(time.tm_sec))
        func moves(_ tag: String) -> [(from: String, to: String)] {
            [
                (currentPath(pipeline), "\(directory)/\(pipeline).\(tag).safetensors"),
                (previousPath(pipeline), "\(directory)/\(pipeline).\(tag).prev.safetensors"),
                (archivePath(pipeline), "\(directory)/\(pipeline).\(tag).evicted"),
            ]
        }
        var tag = "set-aside-\(stamp)"
        var counter = 1
        while moves(tag).contains(where: { Self.exists($0.to) }) {
            counter += 1
            tag = "set-aside-\(stamp)-\(counter)"
        }
        var moved: [String] = []
        for (from, to) in moves(tag) where Self.exists(from) {
            guard rename(from, to) == 0 else { throw DaemonError(.state, "cannot set \(from) aside as \(to)", errno: errno) }
            moved.append(to)
        }
        syncDirectory()
        return moved
    }

    /// Whether anything is at `path`, a dangling link included.
    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
