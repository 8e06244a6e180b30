//! The program's memory allocator: mimalloc, asked for plain blocks wherever a plain block is aligned enough.
//!
//! Parsing and fixing allocate many small strings and vectors, which mimalloc serves faster than the system
//! allocator (measured in `benches/cli.rs`). The `mimalloc` crate passes every request to mimalloc's aligned
//! functions, and mimalloc 3 serves most of those by its generic path: in the parse bench over the corpus, 675,000
//! of 816,000 allocations took it, at 70 instructions each. A plain block already has the alignment nearly every
//! request asks for, so those go to `mi_malloc`, as Rust's own system allocator does with `malloc`.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block of at least this many bytes has (`MI_MAX_ALIGN_SIZE`): block sizes are
/// multiples of 8, and of 16 from 16 on, and a page's first block is 16-aligned. A smaller block, of 8 bytes, is
/// 8-aligned, which is all a request of that size can ask for.
const PLAIN_ALIGN: usize = 16;

pub struct Allocator;

/// True when a plain block of `size` bytes is aligned to `align`.
fn plain_block_suffices(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc and goes back to it: `mi_free` frees plain and aligned blocks alike. A
// plain block is only handed out where `plain_block_suffices` holds, which the unit test below checks against
// mimalloc itself.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain_block_suffices(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain_block_suffices(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain_block_suffices(layout.align(), new_size) {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes up to a few pages, at every alignment up to a page, allocated, grown, shrunk and zeroed: each block
    /// has its alignment, whichever of mimalloc's functions served it. A size need not be a multiple of its
    /// alignment: 8 bytes at 16, or 40 at 64, would come back in blocks that are not, were they asked of
    /// `mi_malloc`. Tests run on the system allocator, so this calls `Allocator` itself.
    #[test]
    fn every_block_has_the_alignment_asked_for() {
        let aligned = |ptr: *mut u8, align: usize| !ptr.is_null() && ptr as usize % align == 0;
        for align in (0..=12).map(|k| 1usize << k) {
            for size in (1..3 * 4096).step_by(7) {
                let layout = Layout::from_size_align(size, align).unwrap();
                let grown = size * 3 + 1;
                // SAFETY: the layouts are non-zero in size, and each block is freed once, by the allocator that
                // made it, with the layout it has.
                unsafe {
                    let plain = Allocator.alloc(layout);
                    assert!(aligned(plain, align), "alloc of {size} bytes at {align}");
                    let larger = Allocator.realloc(plain, layout, grown);
                    assert!(aligned(larger, align), "realloc to {grown} bytes at {align}");
                    let smaller = Allocator.realloc(larger, Layout::from_size_align(grown, align).unwrap(), size);
                    assert!(aligned(smaller, align), "realloc to {size} bytes at {align}");
                    Allocator.dealloc(smaller, layout);
                    let zeroed = Allocator.alloc_zeroed(layout);
                    assert!(aligned(zeroed, align), "alloc_zeroed of {size} bytes at {align}");
                    assert!(std::slice::from_raw_parts(zeroed, size).iter().all(|&b| b == 0));
                    Allocator.dealloc(zeroed, layout);
                }
            }
        }
    }
}
