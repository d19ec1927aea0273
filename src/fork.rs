//! State that belongs to one process (`storage-and-cache.md` T3).
//!
//! `fork()` copies a process's memory but only the thread that called it. Whatever another
//! thread held at that moment stays held in the child forever: a `std` mutex inherited
//! locked blocks the child's first `lock()`, and moka's cache spins waiting for an insert
//! that the vanished thread will never finish. Python users fork all the time
//! (`multiprocessing` on Linux), often while the pool or a cache is busy in other threads.
//!
//! [`PerProcess`] holds a value for the process that made it. The first use in a forked
//! child builds a fresh value and leaves the parent's copy alone: it is never touched (its
//! locks may be held by threads that do not exist here) and never dropped (dropping it could
//! take those locks); the child leaks that copy, once per fork.

use std::sync::atomic::{AtomicPtr, Ordering};

struct Slot<T> {
    pid: u32,
    value: T,
}

/// A value per process; see the module documentation.
pub struct PerProcess<T> {
    current: AtomicPtr<Slot<T>>,
    make: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> PerProcess<T> {
    /// A value built by `make` now, and again by the first use in each forked child.
    pub fn new(make: impl Fn() -> T + Send + Sync + 'static) -> Self {
        let slot = Box::new(Slot {
            pid: std::process::id(),
            value: make(),
        });
        Self {
            current: AtomicPtr::new(Box::into_raw(slot)),
            make: Box::new(make),
        }
    }

    /// This process's value.
    pub fn get(&self) -> &T {
        let pid = std::process::id();
        let seen = self.current.load(Ordering::Acquire);
        // SAFETY: `current` always points at a live slot: slots are created by `Box` here or
        // in `new`, replaced only by the compare-exchange below (which leaks the old one),
        // and freed only by `drop`, which has `&mut self` and so outlives every `&T` handed
        // out by this method.
        let slot = unsafe { &*seen };
        if slot.pid == pid {
            return &slot.value;
        }
        // First use in a forked child: a fresh value. The parent's slot is leaked, never
        // touched again.
        let fresh = Box::into_raw(Box::new(Slot {
            pid,
            value: (self.make)(),
        }));
        match self
            .current
            .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` is now the live slot (see above).
            Ok(_) => unsafe { &(*fresh).value },
            Err(installed) => {
                // Another thread of this child installed its fresh slot first: use that one
                // and free ours, which nobody else has seen.
                // SAFETY: `fresh` came from `Box::into_raw` above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `installed` is the live slot (see above).
                unsafe { &(*installed).value }
            }
        }
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let slot = *self.current.get_mut();
        // SAFETY: the live slot came from `Box::into_raw`, and with `&mut self` no reference
        // to it remains.
        let slot = unsafe { Box::from_raw(slot) };
        if slot.pid != std::process::id() {
            // The parent's value, in a child that never used it: its locks may be held by
            // threads that do not exist here, so it is not dropped.
            std::mem::forget(slot);
        }
    }
}

// SAFETY: a `PerProcess<T>` hands out `&T` to any thread (like `Arc<T>`), so it is `Sync`
// and `Send` when `T` is `Send + Sync`.
unsafe impl<T: Send + Sync> Sync for PerProcess<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for PerProcess<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PerProcess").field(self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A mutex held by another thread at fork: the child gets a fresh one and does not hang.
    /// (The child is a real `fork()`; it reports through its exit status.)
    #[test]
    fn a_child_does_not_inherit_a_held_lock() {
        let shared = std::sync::Arc::new(PerProcess::new(|| Mutex::new(7u32)));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (locked, wait_locked) = std::sync::mpsc::channel::<()>();
        let holder = {
            let shared = std::sync::Arc::clone(&shared);
            std::thread::spawn(move || {
                let _guard = shared.get().lock().unwrap();
                locked.send(()).unwrap();
                held.recv().unwrap_or(());
            })
        };
        wait_locked.recv().unwrap();
        // SAFETY: the child only runs code that does not allocate through locks held by
        // the parent's other threads (a fresh mutex, then _exit).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = shared.get().try_lock().is_ok_and(|v| *v == 7);
            // SAFETY: _exit is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: waiting for the child just forked.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
        release.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(*shared.get().lock().unwrap(), 7);
    }
}
