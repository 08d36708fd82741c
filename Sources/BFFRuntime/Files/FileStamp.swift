import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What tells that a file changed: its modification time, size and inode (a rotation by rename
/// changes the inode even when the time and size happen to match).
///
/// Symbolic links are followed, so a file swapped by re-pointing a link (as Kubernetes updates a
/// mounted Secret or ConfigMap: `tls.crt -> ..data/tls.crt`, `..data -> ..2026_12_03...`) counts as
/// changed.
struct FileStamp: Equatable, Sendable {
    let modifiedNanoseconds: Int?
    let size: Int?
    let inode: UInt64?

    /// The file's stamp now; every part is nil for a file that cannot be read.
    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            modifiedNanoseconds = nil
            size = nil
            inode = nil
            return
        }
        #if canImport(Darwin)
        modifiedNanoseconds = info.st_mtimespec.tv_sec * 1_000_000_000 + info.st_mtimespec.tv_nsec
        #else
        modifiedNanoseconds = info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec
        #endif
        size = Int(info.st_size)
        inode = UInt64(info.st_ino)
    }
}
