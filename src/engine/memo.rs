//! [`Memo`]: answers a run works out once and shares between threads, such as a directory's listing, a path's
//! real path, or the names a wildcard matches.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// A map whose each answer is computed the first time it is asked for.
#[derive(Debug)]
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, V>>,
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
    /// The answer for `key`, from `compute` the first time. The lock is not held while `compute` runs, so it may
    /// ask the memo about another key, such as a parent directory.
    pub fn get_or_insert_with<Q>(&self, key: &Q, compute: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(found) = self.entries().get(key) {
            return found.clone();
        }
        let value = compute();
        self.entries().insert(key.to_owned(), value.clone());
        value
    }

    /// Answers found elsewhere, such as by the walk.
    pub fn extend(&self, known: impl IntoIterator<Item = (K, V)>) {
        self.entries().extend(known);
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.entries.lock().expect("no panics while holding the lock")
    }
}
