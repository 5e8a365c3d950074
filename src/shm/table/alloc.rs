//! The zone's allocator: 4 KiB pages, each serving one power-of-two size class or part of a
//! run for a bigger block; free blocks on a doubly linked list per class; a page whose
//! blocks are all free goes back to the page pool (see [`super`]).

use super::*;

impl<V: Pod> Guard<'_, V> {
    fn meta(&self, page: usize) -> *mut PageMeta {
        let th = self.th();
        self.at(th.meta_off + (page * std::mem::size_of::<PageMeta>()) as u64)
    }

    fn page_off(&self, page: usize) -> u64 {
        self.th().pages_off + (page * PAGE) as u64
    }

    /// A run of `n` free pages (first fit from the hint); marks it taken with `class`.
    fn take_pages(&mut self, n: usize, class: u8) -> Option<usize> {
        let pages = self.th().pages as usize;
        let hint = (self.th().free_page_hint as usize).min(pages);
        let start = (hint..pages).chain(0..hint).find(|&p| {
            p + n <= pages && (p..p + n).all(|q| unsafe { (*self.meta(q)).class } == PAGE_FREE)
        })?;
        for q in start..start + n {
            let m = self.meta(q);
            // SAFETY: page metadata inside the layout.
            unsafe {
                (*m).class = if q == start { class } else { PAGE_RUN_TAIL };
                (*m).used = 0;
                (*m).run = n as u32;
            }
        }
        self.th_mut().free_page_hint = (start + n) as u64;
        Some(start)
    }

    fn free_list_push(&mut self, class: usize, off: u64) {
        let old = self.th().class_free[class];
        // SAFETY: `off` is a free block of at least 32 bytes.
        unsafe {
            std::ptr::write(self.at::<FreeLinks>(off), FreeLinks { next: old, prev: 0 });
            if old != 0 {
                (*self.at::<FreeLinks>(old)).prev = off;
            }
        }
        self.th_mut().class_free[class] = off;
    }

    fn free_list_unlink(&mut self, class: usize, off: u64) {
        // SAFETY: `off` is on the class's free list.
        unsafe {
            let links = self.at::<FreeLinks>(off);
            let (next, prev) = ((*links).next, (*links).prev);
            if prev != 0 {
                (*self.at::<FreeLinks>(prev)).next = next;
            } else {
                self.th_mut().class_free[class] = next;
            }
            if next != 0 {
                (*self.at::<FreeLinks>(next)).prev = prev;
            }
        }
    }

    pub(super) fn alloc(&mut self, size: usize) -> Option<u64> {
        if size > 1 << MAX_CLASS_SHIFT {
            let n = size.div_ceil(PAGE);
            let page = self.take_pages(n, PAGE_RUN_HEAD)?;
            return Some(self.page_off(page));
        }
        let shift = (size.max(1 << MIN_CLASS_SHIFT))
            .next_power_of_two()
            .trailing_zeros();
        let class = (shift - MIN_CLASS_SHIFT) as usize;
        if self.th_mut().class_free[class] == 0 {
            let page = self.take_pages(1, class as u8 + 1)?;
            let base = self.page_off(page);
            let chunk = 1u64 << shift;
            for i in (0..(PAGE as u64 >> shift)).rev() {
                self.free_list_push(class, base + i * chunk);
            }
        }
        let off = self.th().class_free[class];
        self.free_list_unlink(class, off);
        let page = ((off - self.th().pages_off) as usize) / PAGE;
        // SAFETY: the block's page metadata.
        unsafe { (*self.meta(page)).used += 1 };
        Some(off)
    }

    pub(super) fn free(&mut self, off: u64) {
        let page = ((off - self.th().pages_off) as usize) / PAGE;
        let m = self.meta(page);
        // SAFETY: the block's page metadata.
        let meta = unsafe { *m };
        if meta.class == PAGE_RUN_HEAD {
            for q in page..page + meta.run as usize {
                // SAFETY: the run's pages.
                unsafe { (*self.meta(q)).class = PAGE_FREE };
            }
            return;
        }
        if meta.class == PAGE_FREE || meta.class == PAGE_RUN_TAIL {
            return; // not a block start: never free twice
        }
        let class = (meta.class - 1) as usize;
        self.free_list_push(class, off);
        // SAFETY: as above.
        let used = unsafe {
            (*m).used = (*m).used.saturating_sub(1);
            (*m).used
        };
        if used == 0 {
            // The whole page is free: take its chunks off the list, give the page back.
            let shift = class as u32 + MIN_CLASS_SHIFT;
            let base = self.page_off(page);
            for i in 0..(PAGE as u64 >> shift) {
                self.free_list_unlink(class, base + (i << shift));
            }
            // SAFETY: as above.
            unsafe { (*m).class = PAGE_FREE };
            let th = self.th_mut();
            th.free_page_hint = th.free_page_hint.min(page as u64);
        }
    }
}
