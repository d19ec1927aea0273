//! Touching only ictcore's own files (`storage-and-cache.md` T1).
//!
//! A store or cache directory may hold files ictcore did not write (a user's draft, a
//! database, another tool's output), and any of its names may be a symbolic or hard link
//! planted to make a write land elsewhere. So every file the store and cache open for
//! writing goes through here:
//! - nothing follows a symbolic link (`O_NOFOLLOW`; directories are checked with `lstat`);
//! - a file opened to be written in place must be a regular file with one link (a hard link
//!   would carry the write to another name);
//! - new files are created exclusively (`O_EXCL`) under names that embed the pid and a
//!   counter, so a creation never truncates anything, and a clean-up after a failure removes
//!   exactly the file this process created;
//! - a finished file is published with `link` + `unlink` (never a rename over an existing
//!   name), so publishing never replaces a file.
//!
//! What decides that an *existing* file is ictcore's (a marker, a name pattern, a header) is
//! the caller's: the cache and the store each know their own files.

use crate::error::{IctError, Result};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Flags every open here adds: never through a symbolic link, never inherited by children.
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// Maps the kernel's answer to `O_NOFOLLOW` on a link (ELOOP) to an error that says what
/// happened.
fn explain(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::other(format!(
            "{} is a symbolic link; ictcore does not follow links inside its directories",
            path.display()
        ))
    } else {
        e
    }
}

/// Opens an existing file for reading, refusing a symbolic link.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))
}

/// Opens a file to be written in place (created empty when `create` and missing; never
/// truncated here): refuses a symbolic link, anything but a regular file, and a file with
/// more than one name (a hard link would carry the write elsewhere).
pub fn open_write(path: &Path, create: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.nlink() > 1 {
        return Err(io::Error::other(format!(
            "{} has {} hard links; ictcore writes only files that are its own",
            path.display(),
            meta.nlink()
        )));
    }
    Ok(file)
}

/// Creates a new file, failing if the name exists in any form (`O_EXCL`: not even a
/// dangling symbolic link is followed).
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp file name `.{stem}.{pid}-{n}.tmp` (unique within this process; with
/// [`create_new`], a name taken by anyone else is an error, not an overwrite).
pub fn temp_name(stem: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{stem}.{}-{n}.tmp", std::process::id())
}

/// The pid in a name made by [`temp_name`] for `stem`, if the name is one.
pub fn temp_pid(name: &str, stem: &str) -> Option<u32> {
    let rest = name
        .strip_prefix('.')?
        .strip_prefix(stem)?
        .strip_prefix('.')?;
    let (pid, n) = rest.strip_suffix(".tmp")?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether the process `pid` (of a temp name) may still be writing: this process, or any
/// process that exists.
pub fn pid_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Makes `tmp` (a file this process created) visible as `dest` without ever replacing a
/// file: a hard link then the removal of the temp name. Returns false, and removes the temp
/// file, when `dest` exists already.
pub fn publish(tmp: &Path, dest: &Path) -> io::Result<bool> {
    let linked = match std::fs::hard_link(tmp, dest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    };
    let removed = std::fs::remove_file(tmp);
    let linked = linked?;
    removed?;
    Ok(linked)
}

/// Makes `path` a directory if it is missing and checks that it is a real directory (not a
/// symbolic link to one, nor a file).
pub fn ensure_dir(path: &Path) -> Result<()> {
    match std::fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(crate::error::io_error(path)(e)),
    }
    check_dir(path)
}

/// Checks that `path` is a real directory, not a symbolic link.
pub fn check_dir(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(crate::error::io_error(path))?;
    if meta.file_type().is_symlink() {
        return Err(IctError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(
                "is a symbolic link; ictcore does not follow links inside its directories",
            ),
        });
    }
    if !meta.is_dir() {
        return Err(IctError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("is not a directory"),
        });
    }
    Ok(())
}

/// Whether `path` is a regular file (not a link, not a directory) right now.
pub fn is_plain_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ictcore-own-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn links_are_never_followed_or_written_through() {
        let d = dir();
        let target = d.join("users.sqlite");
        std::fs::write(&target, b"precious").unwrap();
        let link = d.join("x.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_write(&link, true).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(open_read(&link).is_err());
        assert!(create_new(&link).is_err());
        let hard = d.join("y.lock");
        std::fs::hard_link(&target, &hard).unwrap();
        let err = open_write(&hard, false).unwrap_err();
        assert!(err.to_string().contains("hard links"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        // A directory link is refused too.
        let dir_link = d.join("ab");
        std::os::unix::fs::symlink(&d, &dir_link).unwrap();
        assert!(check_dir(&dir_link).is_err());
        assert!(ensure_dir(&dir_link).is_err());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn publishing_never_replaces_and_temp_names_parse() {
        let d = dir();
        let dest = d.join("entry");
        std::fs::write(&dest, b"first").unwrap();
        let tmp = d.join(temp_name("entry"));
        std::fs::write(&tmp, b"second").unwrap();
        assert!(!publish(&tmp, &dest).unwrap());
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert!(!tmp.exists());
        let name = temp_name("k");
        assert_eq!(temp_pid(&name, "k"), Some(std::process::id()));
        assert_eq!(temp_pid(&name, "other"), None);
        for foreign in [
            ".k.12.tmp",
            ".k.-1.tmp",
            "k.1-2.tmp",
            ".k.1-2.tmp.bak",
            ".k.a-2.tmp",
        ] {
            assert_eq!(temp_pid(foreign, "k"), None, "{foreign}");
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
