//! Touching only ictcore's own files (`storage-and-cache.md` T1).
//!
//! A store or cache directory may hold files ictcore did not write (a user's draft, a
//! database, another tool's output), and any of its names may be a symbolic or hard link
//! planted to make a write land elsewhere. So every file the store and cache open goes
//! through a [`Dir`]: a handle of a directory opened once and checked, under which files are
//! opened by name with the `*at` system calls (`openat`, `mkdirat`, `linkat`, `renameat`,
//! `unlinkat`), so that swapping a directory for a link after it was checked changes
//! nothing:
//! - nothing below the root the user named follows a symbolic link (`O_NOFOLLOW`);
//! - a file opened to be written in place must be a regular file with one link (a hard link
//!   would carry the write to another name);
//! - new files are created exclusively (`O_EXCL`) under names that embed the pid and a
//!   counter, so a creation never truncates anything, and a clean-up after a failure removes
//!   exactly the file this process created;
//! - a finished file is published with `linkat` + `unlinkat` (never a rename over an existing
//!   name), so publishing never replaces a file.
//!
//! What decides that an *existing* file is ictcore's (a marker, a name pattern, a header) is
//! the caller's: the cache and the store each know their own files.

use crate::error::Result;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Flags every open here adds: never through a symbolic link, never inherited by children.
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// An error for a link where ictcore expected its own file or directory.
fn link_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link; ictcore does not follow links inside its directories",
        path.display()
    ))
}

/// Maps the kernel's answer to `O_NOFOLLOW` on a link (ELOOP; ENOTDIR for a directory
/// opened with `O_DIRECTORY`) to an error that says what happened.
fn explain(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        link_error(path)
    } else {
        e
    }
}

/// The result of a libc call that returns -1 on error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A name of one entry in a directory (no '/', not "." or "..", no NUL).
fn entry_name(name: &str) -> io::Result<CString> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a file name"),
        ));
    }
    CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a file name cannot hold NUL"))
}

/// What `fstatat` says of a name (without following a link).
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub is_file: bool,
    pub is_dir: bool,
    pub is_link: bool,
    pub len: u64,
    pub links: u64,
    pub modified: std::time::SystemTime,
}

/// A directory opened once; files under it are opened by name, relative to the handle.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the directory at `path`, which the user named (links in that path are the
    /// user's choice and are followed; nothing below it is).
    pub fn open(path: &Path) -> io::Result<Self> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path cannot hold NUL"))?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = cvt(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        Ok(Self {
            // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// Another handle of the same directory (a duplicated descriptor).
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// The directory's path (for messages, and for listing).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of an entry (for messages).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn openat(&self, name: &str, flags: i32, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let c = entry_name(name)?;
        // SAFETY: `self.fd` is an open directory and `c` a valid NUL-terminated name; the
        // returned descriptor is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | FLAGS,
                libc::c_uint::from(mode),
            )
        })
        .map_err(|e| explain(&self.join(name), e))?;
        // SAFETY: `fd` was just returned by openat(2) and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// A subdirectory by name (created first when `create`), not through a link.
    pub fn sub(&self, name: &str, create: bool) -> io::Result<Dir> {
        if create {
            let c = entry_name(name)?;
            // SAFETY: as in `openat`.
            let made = cvt(unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), 0o777) });
            match made {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let fd = self
            .openat(name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| {
                // O_DIRECTORY | O_NOFOLLOW on a link to a directory: ENOTDIR or ELOOP.
                if e.raw_os_error() == Some(libc::ENOTDIR)
                    && self.stat(name).is_ok_and(|s| s.is_link)
                {
                    link_error(&self.join(name))
                } else {
                    e
                }
            })?;
        Ok(Dir {
            fd,
            path: self.join(name),
        })
    }

    /// Opens an existing file for reading, refusing a symbolic link.
    pub fn open_read(&self, name: &str) -> io::Result<File> {
        Ok(File::from(self.openat(name, libc::O_RDONLY, 0)?))
    }

    /// Opens a file to be written in place (created empty when `create` and missing; never
    /// truncated here): refuses a symbolic link, anything but a regular file, and a file with
    /// more than one name (a hard link would carry the write elsewhere).
    pub fn open_write(&self, name: &str, create: bool) -> io::Result<File> {
        let flags = libc::O_RDWR | if create { libc::O_CREAT } else { 0 };
        let file = File::from(self.openat(name, flags, 0o666)?);
        check_own_file(&file, &self.join(name))?;
        Ok(file)
    }

    /// Creates a new file, failing if the name exists in any form (`O_EXCL`: not even a
    /// dangling symbolic link is followed).
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        Ok(File::from(self.openat(name, flags, 0o666)?))
    }

    /// Makes `tmp` (a file this process created here) visible as `dest` without ever
    /// replacing a file: a hard link, then the removal of the temp name. Returns false, and
    /// removes the temp file, when `dest` exists already.
    pub fn publish(&self, tmp: &str, dest: &str) -> io::Result<bool> {
        let (from, to) = (entry_name(tmp)?, entry_name(dest)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both names are valid NUL-terminated names relative to the open `fd`.
        let linked = match cvt(unsafe { libc::linkat(fd, from.as_ptr(), fd, to.as_ptr(), 0) }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        };
        let removed = self.remove(tmp);
        let linked = linked?;
        removed?;
        Ok(linked)
    }

    /// Renames `from` to `to` within this directory (replacing `to`: for the store's own
    /// series files, which readers hold by inode).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (a, b) = (entry_name(from)?, entry_name(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both names are valid NUL-terminated names relative to the open `fd`.
        cvt(unsafe { libc::renameat(fd, a.as_ptr(), fd, b.as_ptr()) }).map(|_| ())
    }

    /// Removes a file by name (a link is removed itself, never its target).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let c = entry_name(name)?;
        // SAFETY: a valid NUL-terminated name relative to the open `fd`.
        cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) }).map(|_| ())
    }

    /// What a name is, without following a link.
    pub fn stat(&self, name: &str) -> io::Result<Stat> {
        let c = entry_name(name)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid name relative to the open `fd`, and a buffer of the right size,
        // read only after the call succeeded.
        cvt(unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        // SAFETY: fstatat succeeded, so it filled `st`.
        let st = unsafe { st.assume_init() };
        let kind = st.st_mode & libc::S_IFMT;
        let secs = u64::try_from(st.st_mtime).unwrap_or(0);
        let nanos = u32::try_from(st.st_mtime_nsec).unwrap_or(0);
        #[allow(
            clippy::useless_conversion,
            reason = "the field widths differ by target"
        )]
        Ok(Stat {
            is_file: kind == libc::S_IFREG,
            is_dir: kind == libc::S_IFDIR,
            is_link: kind == libc::S_IFLNK,
            len: u64::try_from(st.st_size).unwrap_or(0),
            links: u64::from(st.st_nlink),
            modified: std::time::UNIX_EPOCH
                + std::time::Duration::new(secs, nanos.min(999_999_999)),
        })
    }

    /// Whether `name` is a regular file (not a link, not a directory) right now.
    pub fn is_plain_file(&self, name: &str) -> bool {
        self.stat(name).is_ok_and(|s| s.is_file)
    }

    /// The names in this directory (read through the handle, not the path).
    pub fn names(&self) -> io::Result<Vec<String>> {
        // SAFETY: dup of an open descriptor; fdopendir takes ownership of the copy and
        // closedir below releases it.
        let copy = cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `copy` is an open directory descriptor owned by nobody else.
        let stream = unsafe { libc::fdopendir(copy) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `copy` is still ours to close.
            unsafe { libc::close(copy) };
            return Err(e);
        }
        // SAFETY: the stream was opened at its start by fdopendir on a fresh descriptor,
        // whose offset may be shared with `self.fd`: rewind it.
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        loop {
            // SAFETY: `stream` is a valid open directory stream.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            if let Ok(name) = name.to_str() {
                if name != "." && name != ".." {
                    names.push(name.to_string());
                }
            }
        }
        // SAFETY: `stream` is valid and closed exactly once (closing the copied descriptor).
        unsafe { libc::closedir(stream) };
        Ok(names)
    }

    /// Syncs the directory itself (its entries: a rename or a new name survives power loss).
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: fsync of an open descriptor.
        cvt(unsafe { libc::fsync(self.fd.as_raw_fd()) }).map(|_| ())
    }
}

/// Checks that an opened file is one ictcore may write in place: a regular file with one
/// name.
fn check_own_file(file: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
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
    Ok(())
}

/// The directory holding `path` (opened as the user named it) and the file's name in it.
pub fn parent_of(path: &Path) -> io::Result<(Dir, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((Dir::open(parent)?, name))
}

/// [`Dir::create_new`] by path.
pub fn create_new(path: &Path) -> io::Result<File> {
    let (dir, name) = parent_of(path)?;
    dir.create_new(&name)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp file name `.{stem}.{pid}-{n}.tmp` (unique within this process; with
/// [`Dir::create_new`], a name taken by anyone else is an error, not an overwrite).
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

/// Opens `root` as a [`Dir`], creating it (and its parents) if missing.
pub fn root_dir(root: &Path, create: bool) -> Result<Dir> {
    if create {
        std::fs::create_dir_all(root).map_err(crate::error::io_error(root))?;
    }
    Dir::open(root).map_err(crate::error::io_error(root))
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
        let root = Dir::open(&d).unwrap();
        std::os::unix::fs::symlink(&target, d.join("x.lock")).unwrap();
        let err = root.open_write("x.lock", true).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(root.open_read("x.lock").is_err());
        assert!(create_new(&d.join("x.lock")).is_err());
        std::fs::hard_link(&target, d.join("y.lock")).unwrap();
        let err = root.open_write("y.lock", false).unwrap_err();
        assert!(err.to_string().contains("hard links"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        // A directory link is refused as a subdirectory, created or not.
        std::os::unix::fs::symlink(&d, d.join("ab")).unwrap();
        for create in [false, true] {
            let err = root.sub("ab", create).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert!(root.sub("../x", true).is_err() && root.sub("..", false).is_err());
        let mut names = root.names().unwrap();
        names.sort();
        assert_eq!(names, ["ab", "users.sqlite", "x.lock", "y.lock"]);
        assert!(root.stat("ab").unwrap().is_link && root.stat("users.sqlite").unwrap().is_file);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn publishing_never_replaces_and_temp_names_parse() {
        let d = dir();
        let dest = d.join("entry");
        std::fs::write(&dest, b"first").unwrap();
        let tmp = temp_name("entry");
        std::fs::write(d.join(&tmp), b"second").unwrap();
        let root = Dir::open(&d).unwrap();
        assert!(!root.publish(&tmp, "entry").unwrap());
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert!(!d.join(&tmp).exists());
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
