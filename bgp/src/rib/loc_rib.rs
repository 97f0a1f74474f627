//! The prefix table: every prefix's candidate paths (the Adj-RIBs-In, folded per prefix) in
//! decision order, which makes the head of each entry its Loc-RIB route (RFC 4271 §3.2).
//!
//! Memory is the design constraint (a million prefixes from one peer within the daemon's
//! 150 MB). A `HashMap<Prefix, Entry>` would cost 2^21 buckets × 41 bytes = 86 MB at 1M
//! prefixes, because hashbrown keeps the load under 7/8 and rounds to a power of two. Here each
//! address family has a hash table that holds only a `u32` slot number (5 bytes a bucket,
//! ~10 MB at 1M) and dense vectors of prefixes and entries (5 + 16 bytes an IPv4 prefix,
//! 17 + 16 an IPv6 one; the unused capacity is never touched and so never resident): an
//! `IpNetwork` would take 18 bytes for every prefix. Removal is a swap-remove that re-points
//! the moved slot, so the vectors stay dense and iteration is a plain slice walk.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::mem;

use hashbrown::HashTable;

use super::{Path, PathSource};
use crate::wire::prefix::{Ipv4Network, Ipv6Network, Prefix};

/// The candidate paths of one prefix, at most one per source. A single path — the common
/// case by far — is stored inline; only a prefix with several paths has a heap slice. 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    One(Path),
    /// Two or more paths; empty only for the moment between the last path's removal and the
    /// entry's removal from the table.
    Many(Box<[Path]>),
}

impl Entry {
    fn empty() -> Entry {
        Entry::Many(Box::default())
    }

    /// The paths, in decision order once [`crate::decision::rank`] has run.
    pub(super) fn paths(&self) -> &[Path] {
        match self {
            Entry::One(p) => std::slice::from_ref(p),
            Entry::Many(v) => v,
        }
    }

    pub(super) fn paths_mut(&mut self) -> &mut [Path] {
        match self {
            Entry::One(p) => std::slice::from_mut(p),
            Entry::Many(v) => v,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Entry::Many(v) if v.is_empty())
    }

    /// The Loc-RIB route: the first path, if it may be used at all.
    pub(super) fn best(&self) -> Option<&Path> {
        self.paths().first().filter(|p| p.eligible)
    }

    pub(super) fn position(&self, source: PathSource) -> Option<usize> {
        self.paths().iter().position(|p| p.source == source)
    }

    pub(super) fn push(&mut self, path: Path) {
        *self = match mem::replace(self, Entry::empty()) {
            Entry::Many(v) if v.is_empty() => Entry::One(path),
            Entry::Many(v) => {
                let mut grown = Vec::with_capacity(v.len() + 1);
                grown.extend(v.into_vec());
                grown.push(path);
                Entry::Many(grown.into_boxed_slice())
            }
            Entry::One(first) => Entry::Many(Box::new([first, path])),
        };
    }

    /// Replaces the path of the same source, or adds it. Returns the path replaced.
    pub(super) fn upsert(&mut self, path: Path) -> Option<Path> {
        match self.position(path.source) {
            Some(i) => Some(mem::replace(&mut self.paths_mut()[i], path)),
            None => {
                self.push(path);
                None
            }
        }
    }

    /// Removes the path of `source`, if there is one.
    pub(super) fn remove(&mut self, source: PathSource) -> Option<Path> {
        let i = self.position(source)?;
        let (removed, rest) = match mem::replace(self, Entry::empty()) {
            Entry::One(p) => (p, Entry::empty()),
            Entry::Many(v) => {
                let mut v = v.into_vec();
                let p = v.remove(i);
                let rest = match <[Path; 1]>::try_from(v) {
                    Ok([only]) => Entry::One(only),
                    Err(v) => Entry::Many(v.into_boxed_slice()),
                };
                (p, rest)
            }
        };
        *self = rest;
        Some(removed)
    }
}

/// Where a prefix lives in the table: its family's vectors, at `index`. Valid until the next
/// removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    v6: bool,
    index: u32,
}

impl Slot {
    fn v4(index: u32) -> Slot {
        Slot { v6: false, index }
    }

    fn v6(index: u32) -> Slot {
        Slot { v6: true, index }
    }
}

/// The prefixes of one address family: `K` is `Ipv4Network` (5 bytes) or `Ipv6Network` (17).
#[derive(Debug)]
struct Family<K> {
    /// Slot numbers, hashed by the prefix stored in that slot.
    index: HashTable<u32>,
    keys: Vec<K>,
    entries: Vec<Entry>,
}

impl<K> Default for Family<K> {
    fn default() -> Self {
        Family {
            index: HashTable::new(),
            keys: Vec::new(),
            entries: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash> Family<K> {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn find(&self, hasher: &RandomState, key: &K) -> Option<u32> {
        let keys = &self.keys;
        self.index
            .find(hasher.hash_one(key), |&s| keys[s as usize] == *key)
            .copied()
    }

    /// Appends `key` (not present) with an empty entry. `None` when the family already holds
    /// 2^32 prefixes.
    fn insert(&mut self, hasher: &RandomState, key: K) -> Option<u32> {
        let slot = u32::try_from(self.keys.len()).ok()?;
        let keys = &self.keys;
        self.index.insert_unique(hasher.hash_one(key), slot, |&s| {
            hasher.hash_one(keys[s as usize])
        });
        self.keys.push(key);
        self.entries.push(Entry::empty());
        Some(slot)
    }

    /// Removes a slot; the last slot moves into its place.
    fn remove(&mut self, hasher: &RandomState, slot: u32) {
        let last = self.keys.len() - 1;
        let hash = hasher.hash_one(self.keys[slot as usize]);
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        if slot as usize != last {
            let hash = hasher.hash_one(self.keys[last]);
            if let Some(moved) = self.index.find_mut(hash, |&s| s as usize == last) {
                *moved = slot;
            }
        }
        self.keys.swap_remove(slot as usize);
        self.entries.swap_remove(slot as usize);
    }

    fn shrink_if_sparse(&mut self, hasher: &RandomState) {
        let len = self.len();
        if self.keys.capacity() > 1024 && len < self.keys.capacity() / 4 {
            self.keys.shrink_to_fit();
            self.entries.shrink_to_fit();
            let keys = &self.keys;
            self.index
                .shrink_to(len, |&s| hasher.hash_one(keys[s as usize]));
        }
    }
}

/// Prefix → [`Entry`], IPv4 first then IPv6, each in insertion order as long as nothing is
/// removed, with stable `&[Path]` borrows for iteration.
#[derive(Debug, Default)]
pub(super) struct PrefixTable {
    /// SipHash with a random key: peers choose the prefixes, so the hash must not be
    /// predictable.
    hasher: RandomState,
    v4: Family<Ipv4Network>,
    v6: Family<Ipv6Network>,
}

impl PrefixTable {
    pub(super) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The slot of `prefix`.
    pub(super) fn find(&self, prefix: &Prefix) -> Option<Slot> {
        match prefix {
            Prefix::V4(k) => self.v4.find(&self.hasher, k).map(Slot::v4),
            Prefix::V6(k) => self.v6.find(&self.hasher, k).map(Slot::v6),
        }
    }

    pub(super) fn get(&self, prefix: &Prefix) -> Option<&Entry> {
        self.find(prefix).map(|s| self.entry(s))
    }

    /// The slot of `prefix`, adding an empty entry when it has none. `None` only when the
    /// table already holds 2^32 prefixes of that family.
    pub(super) fn find_or_insert(&mut self, prefix: Prefix) -> Option<Slot> {
        if let Some(slot) = self.find(&prefix) {
            return Some(slot);
        }
        match prefix {
            Prefix::V4(k) => self.v4.insert(&self.hasher, k).map(Slot::v4),
            Prefix::V6(k) => self.v6.insert(&self.hasher, k).map(Slot::v6),
        }
    }

    /// The slot at position `n` of an iteration (IPv4 first); `n` < [`PrefixTable::len`].
    /// Removing the slot at `n` puts a slot not yet seen at `n`, the others stay in order.
    pub(super) fn nth_slot(&self, n: usize) -> Slot {
        // Both fit: `n` < len, and each family holds at most 2^32 prefixes.
        match n.checked_sub(self.v4.len()) {
            None => Slot::v4(n as u32),
            Some(i) => Slot::v6(i as u32),
        }
    }

    pub(super) fn prefix(&self, slot: Slot) -> Prefix {
        if slot.v6 {
            Prefix::V6(self.v6.keys[slot.index as usize])
        } else {
            Prefix::V4(self.v4.keys[slot.index as usize])
        }
    }

    pub(super) fn entry(&self, slot: Slot) -> &Entry {
        let entries = if slot.v6 {
            &self.v6.entries
        } else {
            &self.v4.entries
        };
        &entries[slot.index as usize]
    }

    pub(super) fn entry_mut(&mut self, slot: Slot) -> &mut Entry {
        let entries = if slot.v6 {
            &mut self.v6.entries
        } else {
            &mut self.v4.entries
        };
        &mut entries[slot.index as usize]
    }

    /// Removes a slot; the last slot of its family moves into its place.
    pub(super) fn remove(&mut self, slot: Slot) {
        if slot.v6 {
            self.v6.remove(&self.hasher, slot.index);
        } else {
            self.v4.remove(&self.hasher, slot.index);
        }
    }

    /// Gives memory back after a large withdrawal (a peer with a full table going down).
    pub(super) fn shrink_if_sparse(&mut self) {
        self.v4.shrink_if_sparse(&self.hasher);
        self.v6.shrink_if_sparse(&self.hasher);
    }

    /// How many prefixes the vectors have room for.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.v4.keys.capacity() + self.v6.keys.capacity()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (Prefix, &Entry)> + '_ {
        let v4 = self.v4.keys.iter().map(|k| Prefix::V4(*k));
        let v6 = self.v6.keys.iter().map(|k| Prefix::V6(*k));
        v4.zip(self.v4.entries.iter())
            .chain(v6.zip(self.v6.entries.iter()))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::rib::PathData;

    fn p(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    fn path(id: u32) -> Path {
        Path::new(PathData {
            source: PathSource::Peer(id),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))),
            peer_bgp_id: Ipv4Addr::new(1, 1, 1, id as u8),
            ibgp: false,
            attrs: Arc::default(),
            next_hop: None,
            eligible: true,
        })
    }

    #[test]
    fn entry_stays_inline_for_one_path() {
        let mut e = Entry::empty();
        assert!(e.is_empty());
        e.push(path(1));
        assert!(matches!(e, Entry::One(_)));
        e.push(path(2));
        assert_eq!(e.paths().len(), 2);
        assert!(e.upsert(path(2)).is_some());
        assert_eq!(e.paths().len(), 2);
        assert_eq!(
            e.remove(PathSource::Peer(1)).map(|p| p.source),
            Some(PathSource::Peer(1))
        );
        assert!(matches!(e, Entry::One(_)));
        assert!(e.remove(PathSource::Peer(1)).is_none());
        assert!(e.remove(PathSource::Peer(2)).is_some());
        assert!(e.is_empty());
        assert_eq!(
            std::mem::size_of::<Entry>(),
            2 * std::mem::size_of::<Path>()
        );
        assert_eq!(std::mem::size_of::<Ipv4Network>(), 5);
    }

    #[test]
    fn table_insert_find_remove_keeps_index_consistent() {
        let mut t = PrefixTable::default();
        let names: Vec<Prefix> = (0..200u32)
            .map(|i| p(&format!("10.{}.{}.0/24", i / 256, i % 256)))
            .chain((0..50u32).map(|i| p(&format!("2001:db8:{i:x}::/48"))))
            .collect();
        for (i, n) in names.iter().enumerate() {
            let slot = t.find_or_insert(*n);
            assert_eq!(slot, Some(t.nth_slot(i)));
            assert_eq!(t.find_or_insert(*n), slot);
        }
        // Remove every third, from the front, so that moved slots are re-pointed.
        for n in names.iter().step_by(3) {
            let s = t.find(n).expect("present");
            t.remove(s);
            assert!(t.find(n).is_none());
        }
        for (i, n) in names.iter().enumerate() {
            match t.find(n) {
                Some(s) => {
                    assert_ne!(i % 3, 0);
                    assert_eq!(t.prefix(s), *n);
                }
                None => assert_eq!(i % 3, 0),
            }
        }
        assert_eq!(t.iter().count(), t.len());
        t.shrink_if_sparse();
        assert!(t.find(&names[1]).is_some());
    }

    #[test]
    fn removing_while_walking_by_position_visits_every_slot_once() {
        let mut t = PrefixTable::default();
        let names: Vec<Prefix> = (0..100u32)
            .map(|i| p(&format!("10.0.{i}.0/24")))
            .chain((0..30u32).map(|i| p(&format!("2001:db8:{i:x}::/48"))))
            .collect();
        for n in &names {
            t.find_or_insert(*n);
        }
        // The walk `Rib::peer_down` does: drop every prefix whose last digit is odd.
        let (mut n, mut seen) = (0, Vec::new());
        while n < t.len() {
            let slot = t.nth_slot(n);
            let prefix = t.prefix(slot);
            seen.push(prefix);
            let odd = match prefix {
                Prefix::V4(k) => k.ip().octets()[2] % 2 == 1,
                Prefix::V6(k) => k.ip().segments()[2] % 2 == 1,
            };
            if odd {
                t.remove(slot);
            } else {
                n += 1;
            }
        }
        seen.sort();
        let mut all = names.clone();
        all.sort();
        assert_eq!(seen, all);
        assert_eq!(t.len(), 65);
        assert_eq!(t.iter().filter(|(p, _)| p.is_ipv4()).count(), 50);
    }
}
