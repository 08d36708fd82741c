import Foundation

/// What tells that a file changed: its modification time, size and inode (a rotation by rename
/// changes the inode even when the time and size happen to match).
struct FileStamp: Equatable, Sendable {
    let modified: Date?
    let size: Int?
    let inode: Int?

    /// The file's stamp now; every part is nil for a file that cannot be read.
    init(path: String) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        modified = attributes?[.modificationDate] as? Date
        size = (attributes?[.size] as? NSNumber)?.intValue
        inode = (attributes?[.systemFileNumber] as? NSNumber)?.intValue
    }
}
