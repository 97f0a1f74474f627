//! The prefix table: every prefix's candidate paths (the Adj-RIBs-In, folded per prefix) in
//! decision order, which makes the head of each entry its Loc-RIB route (RFC 4271 §3.2).
//!
//! Memory is the design constraint (a million prefixes from one peer within the daemon's
//! 150 MB). A `HashMap<Prefix, Entry>` would cost 2^21 buckets × 81 bytes = 170 MB at 1M
//! prefixes, because hashbrown keeps the load under 7/8 and rounds to a power of two. Here the
//! hash table holds only a `u32` slot number (5 bytes a bucket, ~10 MB at 1M) and the
//! prefixes and entries live in two dense vectors (18 + 56 bytes a prefix, whose unused
//! capacity is never touched and so never resident). Removal is a swap-remove that re-points
//! the moved slot, so the vectors stay dense and iteration is a plain slice walk.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::mem;

use hashbrown::HashTable;

use super::{Path, PathSource};
use crate::wire::prefix::Prefix;

/// The candidate paths of one prefix, at most one per source. A single path — the common
/// case by far — is stored inline; only a prefix with several paths has a heap vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    One(Path),
    /// Two or more paths; empty only for the moment between the last path's removal and the
    /// entry's removal from the table.
    Many(Vec<Path>),
}

impl Entry {
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
        *self = match mem::replace(self, Entry::Many(Vec::new())) {
            Entry::Many(v) if v.is_empty() => Entry::One(path),
            Entry::Many(mut v) => {
                v.push(path);
                Entry::Many(v)
            }
            Entry::One(first) => Entry::Many(vec![first, path]),
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
        let (removed, rest) = match mem::replace(self, Entry::Many(Vec::new())) {
            Entry::One(p) => (p, Entry::Many(Vec::new())),
            Entry::Many(mut v) => {
                let p = v.remove(i);
                let rest = match <[Path; 1]>::try_from(v) {
                    Ok([only]) => Entry::One(only),
                    Err(v) => Entry::Many(v),
                };
                (p, rest)
            }
        };
        *self = rest;
        Some(removed)
    }
}

/// Prefix → [`Entry`], insertion-ordered, with stable `&Prefix` / `&[Path]` borrows for
/// iteration.
#[derive(Debug, Default)]
pub(super) struct PrefixTable {
    /// Slot numbers, hashed by the prefix stored in that slot.
    index: HashTable<u32>,
    /// SipHash with a random key: peers choose the prefixes, so the hash must not be
    /// predictable.
    hasher: RandomState,
    prefixes: Vec<Prefix>,
    entries: Vec<Entry>,
}

impl PrefixTable {
    pub(super) fn len(&self) -> usize {
        self.prefixes.len()
    }

    fn hash(&self, prefix: &Prefix) -> u64 {
        self.hasher.hash_one(prefix)
    }

    /// The slot of `prefix`.
    pub(super) fn find(&self, prefix: &Prefix) -> Option<usize> {
        let prefixes = &self.prefixes;
        self.index
            .find(self.hash(prefix), |&s| prefixes[s as usize] == *prefix)
            .map(|&s| s as usize)
    }

    pub(super) fn get(&self, prefix: &Prefix) -> Option<&Entry> {
        self.find(prefix).map(|s| &self.entries[s])
    }

    /// The slot of `prefix`, adding an empty entry when it has none. `None` only when the
    /// table already holds 2^32 prefixes.
    pub(super) fn find_or_insert(&mut self, prefix: Prefix) -> Option<usize> {
        if let Some(slot) = self.find(&prefix) {
            return Some(slot);
        }
        let slot = u32::try_from(self.prefixes.len()).ok()?;
        let hash = self.hash(&prefix);
        let Self {
            index,
            hasher,
            prefixes,
            ..
        } = self;
        index.insert_unique(hash, slot, |&s| hasher.hash_one(prefixes[s as usize]));
        self.prefixes.push(prefix);
        self.entries.push(Entry::Many(Vec::new()));
        Some(slot as usize)
    }

    pub(super) fn prefix(&self, slot: usize) -> &Prefix {
        &self.prefixes[slot]
    }

    pub(super) fn entry(&self, slot: usize) -> &Entry {
        &self.entries[slot]
    }

    pub(super) fn entry_mut(&mut self, slot: usize) -> &mut Entry {
        &mut self.entries[slot]
    }

    /// Removes a slot; the last slot moves into its place.
    pub(super) fn remove(&mut self, slot: usize) {
        let last = self.prefixes.len() - 1;
        let hash = self.hash(&self.prefixes[slot]);
        if let Ok(found) = self.index.find_entry(hash, |&s| s as usize == slot) {
            found.remove();
        }
        if slot != last {
            let hash = self.hash(&self.prefixes[last]);
            if let Some(moved) = self.index.find_mut(hash, |&s| s as usize == last) {
                // `slot` < `last` < 2^32: it came from a u32.
                *moved = slot as u32;
            }
        }
        self.prefixes.swap_remove(slot);
        self.entries.swap_remove(slot);
    }

    /// Gives memory back after a large withdrawal (a peer with a full table going down).
    pub(super) fn shrink_if_sparse(&mut self) {
        let len = self.len();
        if self.prefixes.capacity() > 1024 && len < self.prefixes.capacity() / 4 {
            self.prefixes.shrink_to_fit();
            self.entries.shrink_to_fit();
            let Self {
                index,
                hasher,
                prefixes,
                ..
            } = self;
            index.shrink_to(len, |&s| hasher.hash_one(prefixes[s as usize]));
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Prefix, &Entry)> + '_ {
        self.prefixes.iter().zip(self.entries.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    fn path(id: u32) -> Path {
        Path {
            source: PathSource::Peer(id),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))),
            peer_bgp_id: Ipv4Addr::new(1, 1, 1, id as u8),
            ibgp: false,
            attrs: Arc::default(),
            next_hop: None,
            eligible: true,
        }
    }

    #[test]
    fn entry_stays_inline_for_one_path() {
        let mut e = Entry::Many(Vec::new());
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
        assert_eq!(std::mem::size_of::<Entry>(), std::mem::size_of::<Path>());
    }

    #[test]
    fn table_insert_find_remove_keeps_index_consistent() {
        let mut t = PrefixTable::default();
        let names: Vec<Prefix> = (0..200u32)
            .map(|i| p(&format!("10.{}.{}.0/24", i / 256, i % 256)))
            .chain((0..50u32).map(|i| p(&format!("2001:db8:{i:x}::/48"))))
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.find_or_insert(*n), Some(i));
            assert_eq!(t.find_or_insert(*n), Some(i));
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
                    assert_eq!(t.prefix(s), n);
                }
                None => assert_eq!(i % 3, 0),
            }
        }
        assert_eq!(t.iter().count(), t.len());
        t.shrink_if_sparse();
        assert!(t.find(&names[1]).is_some());
    }
}
