//! [`Memo`]: answers a run works out once and shares between threads, such as a directory's listing, a path's
//! real path, or the names a wildcard matches.

use foldhash::HashMap;
use std::borrow::Borrow;
use std::ffi::OsString;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A map whose each answer is computed the first time it is asked for, once: a thread that asks while another
/// is computing the same answer waits for it. Two threads that start on the Dockerfiles of one directory ask the
/// same questions at the same moment; computed twice, `ADD *` in a context of 5,205 files opened each of them
/// twice.
#[derive(Debug)]
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, Arc<OnceLock<V>>>>,
}

/// A [`Memo`] keyed by a path's bytes: ask it with `path.as_os_str()`.
///
/// `Path`'s own `Hash` reads a path component by component, so that `a//b` and `a/b` hash alike: on the corpus's
/// paths that cost about 1,400 instructions a lookup, and 6% of a `check` of the corpus went to hashing paths. A
/// cache only needs a path spelled the same way to find its entry again; another spelling of the same path costs
/// a second look, never a wrong answer.
pub type PathCache<V> = Memo<OsString, V>;

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo { entries: Mutex::default() }
    }
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// The answer for `key`, from `compute` the first time. The map is not locked while `compute` runs, so it
    /// may ask the memo about another key, such as a parent directory; it must not ask about `key` itself.
    pub fn get_or_insert_with<Q>(&self, key: &Q, compute: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        match self.lookup(key) {
            Ok(found) => found,
            Err((cell, _)) => cell.get_or_init(compute).clone(),
        }
    }

    /// [`Memo::get_or_insert_with`], but `None` at once, instead of waiting, when another thread is computing
    /// the answer: the caller can ask about something else meanwhile, and ask again later.
    pub fn get_or_insert_unless_computing<Q>(&self, key: &Q, compute: impl FnOnce() -> V) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        match self.lookup(key) {
            Ok(found) => Some(found),
            Err((cell, true)) => Some(cell.get_or_init(compute).clone()),
            Err((_, false)) => None,
        }
    }

    /// The answer for `key` if it has been computed; else its cell, and whether this call put the cell there, to
    /// compute the answer. A cell without an answer that was there already is one another thread is computing, or
    /// one whose computation panicked (a bug that the run reports for that file and goes on): the next
    /// [`Memo::get_or_insert_with`] computes it again.
    fn lookup<Q>(&self, key: &Q) -> Result<V, (Arc<OnceLock<V>>, bool)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut entries = self.entries();
        match entries.get(key) {
            Some(cell) => cell.get().cloned().ok_or_else(|| (cell.clone(), false)),
            None => {
                let cell = Arc::new(OnceLock::new());
                entries.insert(key.to_owned(), cell.clone());
                Err((cell, true))
            }
        }
    }

    /// The answer for `key`, if one has been computed.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries().get(key).and_then(|cell| cell.get().cloned())
    }

    /// Answers found elsewhere, such as by the walk.
    pub fn extend(&self, known: impl IntoIterator<Item = (K, V)>) {
        self.entries().extend(known.into_iter().map(|(key, value)| (key, Arc::new(OnceLock::from(value)))));
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Arc<OnceLock<V>>>> {
        self.entries.lock().expect("no panics while holding the lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn get_finds_only_answers_already_computed() {
        let memo: Memo<u32, u32> = Memo::default();
        assert_eq!(memo.get(&1), None);
        assert_eq!(memo.get_or_insert_with(&1, || 10), 10);
        memo.extend([(2, 20)]);
        assert_eq!((memo.get(&1), memo.get(&2), memo.get(&3)), (Some(10), Some(20), None));
    }

    #[test]
    fn an_answer_being_computed_is_waited_for_not_computed_again() {
        let memo: Memo<u32, u32> = Memo::default();
        let computed = AtomicUsize::new(0);
        let (started, computing) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                memo.get_or_insert_with(&1, || {
                    computed.fetch_add(1, Ordering::SeqCst);
                    started.send(()).unwrap();
                    // Long enough for the other thread to ask meanwhile.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    7
                })
            });
            computing.recv().unwrap();
            let answer = memo.get_or_insert_with(&1, || {
                computed.fetch_add(1, Ordering::SeqCst);
                8
            });
            assert_eq!(answer, 7);
        });
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        assert_eq!(memo.get_or_insert_with(&2, || 9), 9, "another key is computed");
    }

    #[test]
    fn an_answer_being_computed_can_be_passed_over_instead_of_waited_for() {
        let memo: Memo<u32, u32> = Memo::default();
        let (started, computing) = std::sync::mpsc::channel();
        let (asked, finish) = std::sync::mpsc::channel::<()>();
        let memo = &memo;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                memo.get_or_insert_with(&1, || {
                    started.send(()).unwrap();
                    finish.recv().unwrap();
                    7
                })
            });
            computing.recv().unwrap();
            assert_eq!(memo.get_or_insert_unless_computing(&1, || 8), None);
            assert_eq!(memo.get_or_insert_unless_computing(&2, || 9), Some(9), "another key is computed");
            asked.send(()).unwrap();
        });
        assert_eq!(memo.get_or_insert_unless_computing(&1, || 8), Some(7));
    }
}
