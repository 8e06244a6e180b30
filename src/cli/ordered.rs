//! Work on every core, results in order: files are processed in parallel while one thread writes each file's
//! output in path order as soon as it is ready.

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// How far the workers may run ahead of the writer: enough to keep every core busy, few enough to keep memory
/// flat.
const WINDOW: usize = 256;

/// Runs `work` on every item on all cores and hands the results to `consume` on this thread, in the items'
/// order, as soon as each is ready. Workers stay at most [`WINDOW`] items ahead of `consume`.
pub fn for_each_in_order<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
    consume: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    let queue = Queue {
        slots: items.iter().map(|_| Mutex::new(None)).collect(),
        next: AtomicUsize::new(0),
        consumed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        live: AtomicUsize::new(workers),
        ready: Condvar::new(),
        ready_lock: Mutex::new(()),
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| queue.work(items, &work));
        }
        let outcome = queue.consume_in_order(consume);
        // On an error (a closed standard output), let the workers finish quickly.
        queue.stop.store(true, Ordering::Relaxed);
        outcome
    })
}

/// The results between the workers and the writer.
struct Queue<R> {
    /// One per item, filled by a worker and emptied by the writer.
    slots: Vec<Mutex<Option<R>>>,
    /// The next item a worker takes.
    next: AtomicUsize,
    /// How many results the writer has consumed.
    consumed: AtomicUsize,
    stop: AtomicBool,
    /// Workers still running.
    live: AtomicUsize,
    ready: Condvar,
    ready_lock: Mutex<()>,
}

impl<R> Queue<R> {
    /// A worker: takes the next item until none is left, staying within [`WINDOW`] of the writer.
    fn work<T>(&self, items: &[T], work: &impl Fn(&T) -> R) {
        let _leaving = Leaving(self);
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= items.len() || self.stop.load(Ordering::Relaxed) {
                break;
            }
            while i >= self.consumed.load(Ordering::Acquire) + WINDOW && !self.stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            let result = work(&items[i]);
            *self.slots[i].lock().expect("no panics while holding the lock") = Some(result);
            // Only the item the writer waits for can wake it.
            if self.consumed.load(Ordering::Acquire) == i {
                let _guard = self.ready_lock.lock().expect("no panics while holding the lock");
                self.ready.notify_all();
            }
        }
    }

    /// The writer: each result in item order, as soon as it is ready.
    fn consume_in_order(&self, mut consume: impl FnMut(R) -> Result<()>) -> Result<()> {
        for (i, slot) in self.slots.iter().enumerate() {
            // The slot is checked under the condvar's lock, so a result stored meanwhile cannot be missed.
            let mut guard = self.ready_lock.lock().expect("no panics while holding the lock");
            let result = loop {
                if let Some(result) = slot.lock().expect("no panics while holding the lock").take() {
                    break result;
                }
                if self.live.load(Ordering::Acquire) == 0 {
                    bail!("a worker stopped before finishing its files");
                }
                guard = self.ready.wait(guard).expect("no panics while holding the lock");
            };
            drop(guard);
            consume(result)?;
            self.consumed.store(i + 1, Ordering::Release);
        }
        Ok(())
    }
}

/// Counts a worker out however it ends, so the writer never waits for a worker that is gone.
struct Leaving<'q, R>(&'q Queue<R>);

impl<R> Drop for Leaving<'_, R> {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Release);
        let _guard = self.0.ready_lock.lock();
        self.0.ready.notify_all();
    }
}
