//! Which file system a store lives on. Advisory locks and memory-mapped files shared by
//! several processes are only dependable on local file systems (every anchor of the storage
//! reference says so of NFS, SMB/CIFS and FUSE mounts), so writers refuse those unless the
//! user opts in with `ICTCORE_ALLOW_NETWORK_FS=1`.

use crate::error::{IctError, Result};
use std::path::Path;

/// `statfs` magic numbers of file systems whose locking or mmap coherence cannot be trusted.
const NETWORK: [(i64, &str); 6] = [
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x6573_5546, "FUSE"),
    (0x0102_1997, "9P"),
];

/// The name of a network file system for a `statfs` `f_type`, or None for a local one.
pub fn network_fs_name(f_type: i64) -> Option<&'static str> {
    NETWORK
        .iter()
        .find(|(magic, _)| *magic == f_type)
        .map(|(_, name)| *name)
}

#[cfg(target_os = "linux")]
#[allow(
    clippy::useless_conversion,
    reason = "statfs.f_type is i64 on x86_64 glibc but narrower on other targets"
)]
fn f_type(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `buf` is a properly sized,
    // writable statfs buffer; it is read only when the call reports success.
    let ok = unsafe { libc::statfs(c_path.as_ptr(), buf.as_mut_ptr()) } == 0;
    // SAFETY: statfs succeeded, so it initialised `buf`.
    ok.then(|| i64::from(unsafe { buf.assume_init() }.f_type))
}

#[cfg(not(target_os = "linux"))]
fn f_type(_path: &Path) -> Option<i64> {
    None
}

/// Refuses a writer on a network file system (see the module documentation); `what` names
/// the parameter in the error (`store`, `cache`).
pub fn check_local(path: &Path, what: &str) -> Result<()> {
    let Some(name) = f_type(path).and_then(network_fs_name) else {
        return Ok(());
    };
    if std::env::var_os("ICTCORE_ALLOW_NETWORK_FS").is_some_and(|v| v == "1") {
        return Ok(());
    }
    Err(IctError::parameter(
        what,
        format!(
            "{} is on a {name} file system, where file locks and shared mappings are not \
             reliable; use a local disk (or set ICTCORE_ALLOW_NETWORK_FS=1 at your own risk)",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_magics_are_recognised_and_local_ones_are_not() {
        assert_eq!(network_fs_name(0x6969), Some("NFS"));
        assert_eq!(network_fs_name(0xFF53_4D42), Some("CIFS"));
        assert_eq!(network_fs_name(0x6573_5546), Some("FUSE"));
        assert_eq!(network_fs_name(0xEF53), None); // ext4
        assert_eq!(network_fs_name(0x0102_1994), None); // tmpfs
        assert!(check_local(&std::env::temp_dir(), "store").is_ok());
    }
}
