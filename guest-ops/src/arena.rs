//! The guest's allocator: two bump arenas that take turns, one per `run`; before the first
//! `run`, and for what does not fit, the system allocator (wasi-libc's dlmalloc) serves.
//!
//! An op allocates a few dozen small vectors and frees them all before the next op; through
//! dlmalloc that was over a third of the guest's own time per op. The arena `run` opens stays
//! current after it returns, so its results' lowering, their `cabi_post_run` and the next
//! op's arguments (lowered by the embedder through `cabi_realloc` before it calls `run`) come
//! from it too. The next `run` starts the other arena over: all it held (the op before last,
//! its results and this op's arguments) is dead by then, while this op's arena still holds
//! the next op's arguments. The op table, the one thing that lives on, is built before the
//! first arena opens.
//!
//! wasi-libc frees with its own `free` what a WASI import returns through `cabi_realloc`
//! (random bytes, environment variables), which must then not come from an arena: the guest
//! calls no such import once an arena is open (HashMap's random keys are drawn while the op
//! table is built).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Bytes of each arena; an op needing more takes the rest from the system allocator.
const ARENA_BYTES: usize = 256 << 10;

pub struct OpArenas {
    state: UnsafeCell<State>,
}

struct State {
    arenas: [Arena; 2],
    /// The arena allocations come from: none before the first `run`.
    current: Option<usize>,
}

struct Arena {
    /// The arena's memory, taken from the system allocator when a `run` first opens it.
    base: *mut u8,
    /// Offset of the first free byte.
    next: usize,
    /// Offset of the latest allocation, which `realloc` may grow in place.
    last: usize,
}

const EMPTY: Arena = Arena {
    base: ptr::null_mut(),
    next: 0,
    last: 0,
};

// A wasm32-wasip2 component runs on one thread.
unsafe impl Sync for OpArenas {}

#[global_allocator]
static ARENAS: OpArenas = OpArenas {
    state: UnsafeCell::new(State {
        arenas: [EMPTY, EMPTY],
        current: None,
    }),
};

/// Makes the arena the op before last used current, emptied: called as `run` starts.
pub fn begin_op() {
    crate::ops::registry::prepare();
    // SAFETY: one thread, and no allocation is in progress while `run` starts.
    let state = unsafe { &mut *ARENAS.state.get() };
    let index = state.current.map_or(0, |i| 1 - i);
    let arena = &mut state.arenas[index];
    if arena.base.is_null() {
        let layout = Layout::from_size_align(ARENA_BYTES, 16).expect("valid layout");
        // SAFETY: a non-zero size.
        arena.base = unsafe { System.alloc(layout) };
    }
    arena.next = 0;
    arena.last = 0;
    state.current = (!arena.base.is_null()).then_some(index);
}

impl Arena {
    fn holds(&self, p: *mut u8) -> bool {
        let start = self.base as usize;
        !self.base.is_null() && (start..start + ARENA_BYTES).contains(&(p as usize))
    }

    fn bump(&mut self, layout: Layout) -> Option<*mut u8> {
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

    /// Grows the latest allocation in place, if it is `p` and there is room.
    fn grow(&mut self, p: *mut u8, new_size: usize) -> bool {
        let offset = p as usize - self.base as usize;
        let fits = offset == self.last && offset + new_size <= ARENA_BYTES;
        if fits {
            self.next = offset + new_size;
        }
        fits
    }
}

impl State {
    fn current(&mut self) -> Option<&mut Arena> {
        self.current.map(|i| &mut self.arenas[i])
    }

    fn holds(&self, p: *mut u8) -> bool {
        self.arenas.iter().any(|arena| arena.holds(p))
    }
}

unsafe impl GlobalAlloc for OpArenas {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread; no other borrow of the state is alive.
        let state = unsafe { &mut *self.state.get() };
        match state.current().and_then(|arena| arena.bump(layout)) {
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
        let in_place = state
            .current()
            .is_some_and(|arena| arena.holds(p) && arena.grow(p, new_size));
        if in_place {
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
