import Foundation

/// What tells that a file changed: its modification time, size and inode (a rotation by rename
/// changes the inode even when the time and size happen to match).
///
/// Symbolic links are followed to the file they end at, so a file swapped by re-pointing a link
/// (as Kubernetes updates a mounted Secret or ConfigMap: `tls.crt -> ..data/tls.crt`,
/// `..data -> ..2026_12_03...`) counts as changed.
struct FileStamp: Equatable, Sendable {
    let modified: Date?
    let size: Int?
    let inode: Int?

    /// The file's stamp now; every part is nil for a file that cannot be read.
    init(path: String) {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let attributes = try? FileManager.default.attributesOfItem(atPath: target)
        modified = attributes?[.modificationDate] as? Date
        size = (attributes?[.size] as? NSNumber)?.intValue
        inode = (attributes?[.systemFileNumber] as? NSNumber)?.intValue
    }
}
