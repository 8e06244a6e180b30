//! Work on every core, results in order: files are processed in parallel, and each file's output is written in
//! path order as soon as it and every file before it are done.
//!
//! There is no writer thread. The worker that finishes the next file in order writes it, and every finished file
//! after it, while it holds the output; a worker that finishes a later file leaves it for whoever writes next.
//! No thread ever waits for another to be woken, which a writer waiting on each file in turn did twenty thousand
//! times over the corpus.

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};

/// How far the workers may run ahead of the output: enough to keep every core busy, few enough to keep memory
/// flat.
const WINDOW: usize = 256;

/// The cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on every item on `workers` threads and hands the results to `consume`, in the items' order, as
/// soon as each is ready. `consume` runs on the worker threads, one call at a time. Workers stay at most
/// [`WINDOW`] items ahead of `consume`.
pub fn for_each_in_order<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    consume: impl FnMut(R) -> Result<()> + Send,
) -> Result<()> {
    let workers = workers.clamp(1, items.len().max(1));
    let queue = Queue {
        slots: items.iter().map(|_| Mutex::new(None)).collect(),
        next: AtomicUsize::new(0),
        consumed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        sink: Mutex::new(Sink { consume, failed: None }),
    };
    let panicked = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers).map(|_| scope.spawn(|| queue.work(items, &work))).collect();
        workers.into_iter().filter_map(|worker| worker.join().err()).next()
    });
    // A bug, not an error to report: the caller gets the panic itself, not the scope's word that one happened.
    if let Some(panic) = panicked {
        std::panic::resume_unwind(panic);
    }
    let sink = queue.sink.into_inner().expect("no panics while holding the lock");
    if let Some(error) = sink.failed {
        return Err(error);
    }
    if queue.consumed.into_inner() != items.len() {
        bail!("a worker stopped before finishing its files");
    }
    Ok(())
}

/// The results between the workers and the output.
struct Queue<R, C> {
    /// One per item, filled by a worker and emptied when written.
    slots: Vec<Mutex<Option<R>>>,
    /// The next item a worker takes.
    next: AtomicUsize,
    /// How many results have been written.
    consumed: AtomicUsize,
    /// Writing failed (a closed standard output): the workers finish quickly.
    stop: AtomicBool,
    sink: Mutex<Sink<C>>,
}

/// Where results go, one at a time, and the first error writing them.
struct Sink<C> {
    consume: C,
    failed: Option<anyhow::Error>,
}

impl<R, C: FnMut(R) -> Result<()>> Queue<R, C> {
    /// A worker: takes the next item until none is left, staying within [`WINDOW`] of the output, and writes
    /// what is ready in order after each.
    fn work<T>(&self, items: &[T], work: &impl Fn(&T) -> R) {
        // A worker that panics leaves its item without a result, and the output waits for it: the other workers
        // would wait at the window's edge for ever.
        let _stop_on_panic = StopOnPanic(&self.stop);
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
            self.write_ready();
        }
    }

    /// Writes the results that are next in order, if no other worker is writing. A worker that finds the output
    /// taken leaves its result to the holder, which looks again after letting go: a result stored while it
    /// wrote is then found, by it or by whoever takes the output next.
    fn write_ready(&self) {
        while self.next_is_ready() {
            let mut sink = match self.sink.try_lock() {
                Ok(sink) => sink,
                Err(TryLockError::WouldBlock) => return,
                Err(TryLockError::Poisoned(_)) => panic!("a worker panicked while writing"),
            };
            loop {
                let i = self.consumed.load(Ordering::Acquire);
                let Some(result) =
                    self.slots.get(i).and_then(|slot| slot.lock().expect("no panics while holding the lock").take())
                else {
                    break;
                };
                if sink.failed.is_none() {
                    if let Err(error) = (sink.consume)(result) {
                        sink.failed = Some(error);
                        self.stop.store(true, Ordering::Relaxed);
                    }
                }
                self.consumed.store(i + 1, Ordering::Release);
            }
        }
    }

    fn next_is_ready(&self) -> bool {
        let i = self.consumed.load(Ordering::Acquire);
        self.slots.get(i).is_some_and(|slot| slot.lock().expect("no panics while holding the lock").is_some())
    }
}

/// Stops the run when the worker holding it panics.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order_whatever_order_they_finish_in() {
        let items: Vec<u64> = (0..2000).collect();
        let mut seen = Vec::new();
        // Later items finish first: the earliest ones take the longest.
        let work = |&n: &u64| {
            if n % 97 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
            n * 2
        };
        for_each_in_order(&items, 4, work, |r| {
            seen.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_worker_that_panics_stops_the_run_instead_of_holding_it_up() {
        // More items than the window: the other workers would wait for the output to pass the lost item.
        let items: Vec<u32> = (0..10_000).collect();
        let run = std::panic::catch_unwind(|| {
            for_each_in_order(
                &items,
                cores().max(2),
                |&n| {
                    assert!(n != 5, "a bug met on item 5");
                    n
                },
                |_| Ok(()),
            )
        });
        let panic = run.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"a bug met on item 5"));
    }

    #[test]
    fn a_failed_write_stops_the_run_and_is_returned() {
        let items: Vec<u32> = (0..10_000).collect();
        let written = AtomicUsize::new(0);
        let outcome = for_each_in_order(
            &items,
            cores(),
            |&n| n,
            |n| {
                written.fetch_add(1, Ordering::Relaxed);
                if n == 5 {
                    bail!("standard output closed");
                }
                Ok(())
            },
        );
        assert_eq!(outcome.unwrap_err().to_string(), "standard output closed");
        assert_eq!(written.load(Ordering::Relaxed), 6, "nothing is written after the failure");
    }
}
