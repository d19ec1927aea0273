//! `Recycling`: a global allocator for the Python extension. It is the system allocator,
//! except that large blocks (result columns of long series) are kept after they are freed and
//! handed out again for an allocation of exactly the same size and alignment.
//!
//! Why: glibc returns large blocks to the kernel at once, so every call on a long series got
//! fresh pages that the kernel had to fault in and zero: about a quarter of the run time of
//! the compat functions on 1M candles (`benches/bench_compat.py`, with and without). Repeated
//! calls on series of one length, the normal case, now reuse memory instead.
//!
//! Never blocks: the cache is only ever `try_lock`ed, and an allocation that finds it busy
//! simply goes to the system. So a lock held at `fork()` by another thread (the engine uses
//! multiprocessing) can never deadlock the child; it only bypasses the cache there.
//!
//! Bounds: at most [`SLOTS`] blocks and [`MAX_BYTES`] bytes are kept; to make room for a
//! newly freed block the oldest kept ones go back to the system (so sizes that stop being
//! used age out), and [`release`] hands every kept block back. Blocks below [`MIN_BYTES`]
//! never enter the cache.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Blocks smaller than this go straight to the system allocator.
pub const MIN_BYTES: usize = 1 << 20;
/// Most bytes kept in freed blocks.
pub const MAX_BYTES: usize = 192 << 20;
/// Most freed blocks kept.
pub const SLOTS: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    addr: usize,
    size: usize,
    align: usize,
    /// When it was kept: the smallest is evicted first.
    stamp: u64,
}

/// What [`BlockCache::keep`] did with a freed block.
#[derive(Debug, PartialEq, Eq)]
enum Kept {
    Yes,
    /// Too large to keep: free it.
    No,
    /// Not kept yet: free this older block, then try again.
    Evict(Block),
}

/// Freed blocks by exact (size, align). Fixed-size storage: the cache must never allocate,
/// since it runs inside the allocator.
#[derive(Debug)]
struct BlockCache {
    blocks: [Option<Block>; SLOTS],
    bytes: usize,
    clock: u64,
}

impl BlockCache {
    const fn new() -> Self {
        Self {
            blocks: [None; SLOTS],
            bytes: 0,
            clock: 0,
        }
    }

    fn take(&mut self, size: usize, align: usize) -> Option<usize> {
        let slot = self
            .blocks
            .iter()
            .position(|b| b.is_some_and(|b| b.size == size && b.align == align))?;
        let block = self.blocks[slot].take()?;
        self.bytes -= block.size;
        Some(block.addr)
    }

    /// Keeps a freed block, or says which older block must go first, or refuses it.
    fn keep(&mut self, addr: usize, size: usize, align: usize) -> Kept {
        if size > MAX_BYTES {
            return Kept::No;
        }
        let free_slot = self.blocks.iter().position(Option::is_none);
        match free_slot {
            Some(slot) if self.bytes + size <= MAX_BYTES => {
                self.clock += 1;
                self.blocks[slot] = Some(Block {
                    addr,
                    size,
                    align,
                    stamp: self.clock,
                });
                self.bytes += size;
                Kept::Yes
            }
            _ => {
                let oldest = self
                    .blocks
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| b.map(|b| (b.stamp, i)))
                    .min();
                match oldest.and_then(|(_, i)| self.blocks[i].take()) {
                    Some(block) => {
                        self.bytes -= block.size;
                        Kept::Evict(block)
                    }
                    None => Kept::No,
                }
            }
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = Block> + '_ {
        self.bytes = 0;
        self.blocks.iter_mut().filter_map(Option::take)
    }
}

static CACHE: Mutex<BlockCache> = Mutex::new(BlockCache::new());

/// See the module documentation. Install with
/// `#[global_allocator] static A: ictcore::recycle::Recycling = ictcore::recycle::Recycling;`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recycling;

fn take(layout: Layout) -> Option<*mut u8> {
    let addr = CACHE.try_lock().ok()?.take(layout.size(), layout.align())?;
    Some(addr as *mut u8)
}

fn keep(ptr: *mut u8, layout: Layout) -> bool {
    loop {
        let Ok(mut cache) = CACHE.try_lock() else {
            return false;
        };
        match cache.keep(ptr as usize, layout.size(), layout.align()) {
            Kept::Yes => return true,
            Kept::No => return false,
            Kept::Evict(old) => {
                drop(cache);
                free_block(old);
            }
        }
    }
}

fn free_block(block: Block) {
    // SAFETY: kept blocks came from `System` with exactly this size and alignment (`Layout`
    // was valid when they were allocated) and nobody else owns them.
    unsafe {
        System.dealloc(
            block.addr as *mut u8,
            Layout::from_size_align_unchecked(block.size, block.align),
        );
    }
}

/// Returns every kept block to the system; the number of bytes released (0 if another
/// thread holds the cache at this instant).
pub fn release() -> usize {
    let Ok(mut cache) = CACHE.try_lock() else {
        return 0;
    };
    // Collect under the lock (no allocation: a fixed array), free after it.
    let mut drained = [None; SLOTS];
    for (slot, block) in drained.iter_mut().zip(cache.drain()) {
        *slot = Some(block);
    }
    drop(cache);
    let mut released = 0;
    for block in drained.into_iter().flatten() {
        released += block.size;
        free_block(block);
    }
    released
}

/// Hands the free memory the C allocator still holds back to the system (glibc keeps
/// freed chunks of its heaps and arenas: the blocks a long computation grew through, its
/// vectors' old buffers, stay resident after they are freed). A walk over the heaps, so
/// for after large work, not per call. No-op where the C library is not glibc.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps; it reads
    // and writes no memory of ours and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes currently kept for reuse.
pub fn kept_bytes() -> usize {
    CACHE.try_lock().map_or(0, |c| c.bytes)
}

// SAFETY: every pointer handed out was obtained from `System` for exactly the size and
// alignment it is handed out for (blocks are matched exactly); a block is either in the cache
// or owned by one caller, never both; the cache's lock and storage never allocate.
unsafe impl GlobalAlloc for Recycling {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BYTES {
            if let Some(ptr) = take(layout) {
                return ptr;
            }
        }
        // SAFETY: forwarded with the caller's (valid, non-zero) layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BYTES {
            if let Some(ptr) = take(layout) {
                // SAFETY: the block is ours and `layout.size()` bytes long.
                unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
                return ptr;
            }
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= MIN_BYTES && keep(ptr, layout) {
            return;
        }
        // SAFETY: `ptr` came from `System` with this layout (see the impl's safety note).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < MIN_BYTES && new_size < MIN_BYTES {
            // Small blocks never touch the cache: let the system grow them in place.
            // SAFETY: forwarded with the caller's arguments; the block is a System block.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, does not
        // overflow, so this layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `alloc`, `copy_nonoverlapping` and `dealloc` on blocks we own.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_matches_exactly_and_keeps_its_bounds() {
        let mut cache = BlockCache::new();
        assert_eq!(cache.keep(0x1000, MIN_BYTES, 8), Kept::Yes);
        assert_eq!(cache.take(MIN_BYTES, 16), None); // other alignment
        assert_eq!(cache.take(MIN_BYTES + 8, 8), None); // other size
        assert_eq!(cache.take(MIN_BYTES, 8), Some(0x1000));
        assert_eq!(cache.take(MIN_BYTES, 8), None);
        assert_eq!(cache.bytes, 0);
        assert_eq!(cache.keep(0x9000, MAX_BYTES + 1, 8), Kept::No);
        // Byte bound: the oldest block makes room.
        assert_eq!(cache.keep(0x2000, MAX_BYTES, 8), Kept::Yes);
        match cache.keep(0x3000, MIN_BYTES, 8) {
            Kept::Evict(old) => assert_eq!(old.addr, 0x2000),
            other => panic!("expected an eviction, got {other:?}"),
        }
        assert_eq!(cache.keep(0x3000, MIN_BYTES, 8), Kept::Yes);
        assert_eq!(cache.drain().count(), 1);
        // Slot bound: oldest first.
        for i in 0..SLOTS {
            assert_eq!(cache.keep(i + 1, MIN_BYTES, 8), Kept::Yes);
        }
        match cache.keep(SLOTS + 1, MIN_BYTES, 8) {
            Kept::Evict(old) => assert_eq!(old.addr, 1),
            other => panic!("expected an eviction, got {other:?}"),
        }
        assert_eq!(cache.drain().count(), SLOTS - 1);
        assert_eq!(cache.bytes, 0);
    }

    #[test]
    fn blocks_round_trip_through_the_allocator() {
        let a = Recycling;
        let layout = Layout::from_size_align(3 * MIN_BYTES, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            p.write_bytes(0xAB, layout.size());
            a.dealloc(p, layout);
            let z = a.alloc_zeroed(layout);
            assert!(!z.is_null());
            assert!(std::slice::from_raw_parts(z, layout.size())
                .iter()
                .all(|&b| b == 0));
            let grown = a.realloc(z, layout, 4 * MIN_BYTES);
            assert!(!grown.is_null());
            a.dealloc(grown, Layout::from_size_align(4 * MIN_BYTES, 8).unwrap());
            let small = a.alloc(Layout::from_size_align(64, 8).unwrap());
            let small = a.realloc(small, Layout::from_size_align(64, 8).unwrap(), 128);
            a.dealloc(small, Layout::from_size_align(128, 8).unwrap());
        }
        assert!(release() >= 3 * MIN_BYTES);
        assert_eq!(kept_bytes(), 0);
    }
}
