//! A map with a fixed capacity that forgets its oldest entries first, so caches stay flat
//! however long the bot runs.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A map holding at most `capacity` entries; inserting a new key beyond that evicts the
/// key inserted longest ago (updates of an existing key keep its place).
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    capacity: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Looks up by any borrowed form of the key (`&str` for `String` keys), so a lookup
    /// never allocates.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Inserts or replaces; returns the previous value for the key.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(old) = self.map.get_mut(&key) {
            return Some(std::mem::replace(old, value));
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.map.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
        None
    }

    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let value = self.map.remove(key)?;
        if let Some(pos) = self.order.iter().position(|k| k.borrow() == key) {
            self.order.remove(pos);
        }
        Some(value)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_capacity_and_forgets_oldest_first() {
        let mut m = BoundedMap::new(3);
        for i in 0..10 {
            m.insert(i, i * 10);
            assert!(m.len() <= 3);
        }
        assert!(!m.contains(&6));
        assert_eq!(m.get(&7), Some(&70));
        assert_eq!(m.get(&9), Some(&90));
        // Replacing keeps the size and returns the old value.
        assert_eq!(m.insert(9, 1), Some(90));
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove(&8), Some(80));
        m.insert(11, 0);
        m.insert(12, 0);
        assert_eq!(m.len(), 3);
        assert!(m.contains(&12) && m.contains(&11) && m.contains(&9));
    }
}
