//! The guest's allocator: while `run` lowers an op, every allocation comes from one bump
//! arena, which the next `run` starts over; outside `run`, and for what does not fit, the
//! system allocator (wasi-libc's dlmalloc) serves.
//!
//! An op allocates a few dozen small vectors and frees them all before the next op; through
//! dlmalloc that was over a third of the guest's own time per op. Nothing allocated during
//! `run` outlives the next `run`: the results are read by the embedder (and freed by
//! `cabi_post_run`) before it calls `run` again, and the op table is built before an arena
//! opens.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Bytes of the arena; an op needing more takes the rest from the system allocator.
const ARENA_BYTES: usize = 256 << 10;

pub struct OpArena {
    state: UnsafeCell<State>,
}

struct State {
    /// The arena's memory, taken from the system allocator when the first op opens it.
    base: *mut u8,
    /// Offset of the first free byte.
    next: usize,
    /// Offset of the latest allocation, which `realloc` may grow in place.
    last: usize,
    open: bool,
}

// A wasm32-wasip2 component runs on one thread.
unsafe impl Sync for OpArena {}

#[global_allocator]
static ARENA: OpArena = OpArena {
    state: UnsafeCell::new(State {
        base: ptr::null_mut(),
        next: 0,
        last: 0,
        open: false,
    }),
};

/// While alive, allocations come from the arena, emptied when this scope began.
pub struct OpScope(());

impl OpScope {
    pub fn begin() -> Self {
        crate::ops::registry::prepare();
        // SAFETY: one thread, and no allocation is in progress while `run` starts.
        let state = unsafe { &mut *ARENA.state.get() };
        if state.base.is_null() {
            let layout = Layout::from_size_align(ARENA_BYTES, 16).expect("valid layout");
            // SAFETY: a non-zero size.
            state.base = unsafe { System.alloc(layout) };
        }
        state.next = 0;
        state.last = 0;
        state.open = !state.base.is_null();
        OpScope(())
    }
}

impl Drop for OpScope {
    fn drop(&mut self) {
        // SAFETY: as in `begin`.
        unsafe { (*ARENA.state.get()).open = false };
    }
}

impl State {
    fn holds(&self, p: *mut u8) -> bool {
        let start = self.base as usize;
        (start..start + ARENA_BYTES).contains(&(p as usize))
    }

    fn bump(&mut self, layout: Layout) -> Option<*mut u8> {
        if !self.open {
            return None;
        }
        let address = self.base as usize + self.next;
        let start = address.checked_next_multiple_of(layout.align())? - self.base as usize;
        let end = start.checked_add(layout.size())?;
        if end > ARENA_BYTES {
            return None;
        }
        self.last = start;
        self.next = end;
        Some(self.base.wrapping_add(start))
    }
}

unsafe impl GlobalAlloc for OpArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread; no other borrow of the state is alive.
        let state = unsafe { &mut *self.state.get() };
        match state.bump(layout) {
            Some(p) => p,
            // SAFETY: the caller's contract, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let state = unsafe { &*self.state.get() };
        if !state.holds(p) {
            // SAFETY: `p` came from the system allocator with `layout`.
            unsafe { System.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.state.get() };
        if !state.holds(p) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        let offset = p as usize - state.base as usize;
        if state.open && offset == state.last && offset + new_size <= ARENA_BYTES {
            state.next = offset + new_size;
            return p;
        }
        // SAFETY: a valid layout (the caller's contract), then copying what both hold.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(p, moved, layout.size().min(new_size));
            }
            moved
        }
    }
}
