//! A compact prefix → slot table for a million routes.
//!
//! Each entry is a prefix, a 32-bit value and 8 flag bits: 12 bytes for IPv4, 24 for IPv6,
//! plus one control byte per bucket (`hashbrown::HashTable`). A `HashMap<IpNetwork, _>` would
//! take twice that, and the daemon has 150 MB for a million prefixes in RIB and FIB together.
//! Each family's table is split in shards, so that growing or shrinking it never holds two
//! copies of the whole table at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hashbrown::HashTable;
use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

/// The value stored per prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub value: u32,
    pub flags: u8,
}

/// Mutable access to one entry's value and flags.
pub(crate) struct SlotMut<'a> {
    pub value: &'a mut u32,
    pub flags: &'a mut u8,
}

#[derive(Debug)]
struct V4 {
    addr: u32,
    value: u32,
    len: u8,
    flags: u8,
}

#[derive(Debug)]
struct V6 {
    addr: [u8; 16],
    value: u32,
    len: u8,
    flags: u8,
}

/// splitmix64's finalizer: hashbrown takes both the top and the bottom bits of the hash.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A per-process random key mixed into every hash: peers choose the prefixes, and an unkeyed
/// (invertible) mix would let one craft prefixes that all land in the same buckets.
fn seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x0062_6770_6f64_u64)
    })
}

fn h4(addr: u32, len: u8) -> u64 {
    mix(seed() ^ ((u64::from(addr) << 8) | u64::from(len)))
}

fn h6(addr: &[u8; 16], len: u8) -> u64 {
    let v = u128::from_be_bytes(*addr);
    // Truncation intended: the two halves are folded into one word.
    #[allow(clippy::cast_possible_truncation)]
    let (hi, lo) = ((v >> 64) as u64, v as u64);
    mix(hi ^ mix(seed() ^ lo ^ u64::from(len)))
}

/// The table key of a prefix: its network address (host bits cleared) and length.
enum Key {
    V4(u32, u8),
    V6([u8; 16], u8),
}

fn key(p: &IpNetwork) -> Key {
    match p {
        IpNetwork::V4(n) => Key::V4(u32::from(n.network()), n.prefix()),
        IpNetwork::V6(n) => Key::V6(n.network().octets(), n.prefix()),
    }
}

fn v4_prefix(e: &V4) -> Option<IpNetwork> {
    Ipv4Network::new_checked(Ipv4Addr::from(e.addr), e.len).map(IpNetwork::V4)
}

fn v6_prefix(e: &V6) -> Option<IpNetwork> {
    Ipv6Network::new_checked(Ipv6Addr::from(e.addr), e.len).map(IpNetwork::V6)
}

/// A hash table split in [`SHARDS`] tables by bits of the hash that hashbrown does not use
/// (it takes the bucket from the low bits and its tags from the top seven). A table grows
/// by allocating the new one while the old is still alive: one 26 MiB table for a million
/// IPv4 prefixes went through a 13 + 26 MiB moment at 917 504 entries, and the same on the way
/// down. A shard grows alone, so that moment costs 1/64 of it.
#[derive(Debug)]
struct Sharded<T> {
    shards: Vec<HashTable<T>>,
}

/// How many shards: enough to make a rehash small, few enough that a small table wastes
/// nothing (an empty shard allocates nothing).
const SHARDS: usize = 64;

/// A shard that holds more than this may shrink.
const SHRINK_ABOVE: usize = 1024 / SHARDS;

impl<T> Default for Sharded<T> {
    fn default() -> Self {
        Sharded {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
        }
    }
}

/// The shard of a hash: bits 32..38, which hashbrown does not use below 2^32 buckets.
fn shard_of(hash: u64) -> usize {
    // Truncation intended: only the low six bits of the shifted hash are kept.
    #[allow(clippy::cast_possible_truncation)]
    let bits = (hash >> 32) as usize;
    bits % SHARDS
}

impl<T> Sharded<T> {
    fn shard(&self, hash: u64) -> &HashTable<T> {
        &self.shards[shard_of(hash)]
    }

    fn shard_mut(&mut self, hash: u64) -> &mut HashTable<T> {
        &mut self.shards[shard_of(hash)]
    }

    fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    /// Gives memory back after a mass withdrawal, one shard at a time.
    fn maybe_shrink(&mut self, hash: u64, rehash: impl Fn(&T) -> u64) {
        let t = self.shard_mut(hash);
        if t.capacity() > SHRINK_ABOVE && t.len() < t.capacity() / 4 {
            t.shrink_to(t.len() * 2, rehash);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.shards.iter().flat_map(HashTable::iter)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.shards.iter_mut().flat_map(HashTable::iter_mut)
    }
}

/// Prefix → [`Slot`], IPv4 and IPv6.
#[derive(Debug, Default)]
pub(crate) struct PrefixTable {
    v4: Sharded<V4>,
    v6: Sharded<V6>,
}

impl PrefixTable {
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn get(&self, p: &IpNetwork) -> Option<Slot> {
        match key(p) {
            Key::V4(a, l) => {
                let h = h4(a, l);
                self.v4
                    .shard(h)
                    .find(h, |e| e.addr == a && e.len == l)
                    .map(|e| Slot {
                        value: e.value,
                        flags: e.flags,
                    })
            }
            Key::V6(a, l) => {
                let h = h6(&a, l);
                self.v6
                    .shard(h)
                    .find(h, |e| e.addr == a && e.len == l)
                    .map(|e| Slot {
                        value: e.value,
                        flags: e.flags,
                    })
            }
        }
    }

    pub fn get_mut(&mut self, p: &IpNetwork) -> Option<SlotMut<'_>> {
        match key(p) {
            Key::V4(a, l) => {
                let h = h4(a, l);
                self.v4
                    .shard_mut(h)
                    .find_mut(h, |e| e.addr == a && e.len == l)
                    .map(|e| SlotMut {
                        value: &mut e.value,
                        flags: &mut e.flags,
                    })
            }
            Key::V6(a, l) => {
                let h = h6(&a, l);
                self.v6
                    .shard_mut(h)
                    .find_mut(h, |e| e.addr == a && e.len == l)
                    .map(|e| SlotMut {
                        value: &mut e.value,
                        flags: &mut e.flags,
                    })
            }
        }
    }

    /// The entry for `p`, created with `init` if absent.
    pub fn get_or_insert(&mut self, p: &IpNetwork, init: Slot) -> SlotMut<'_> {
        match key(p) {
            Key::V4(a, l) => {
                let h = h4(a, l);
                let e = self
                    .v4
                    .shard_mut(h)
                    .entry(h, |e| e.addr == a && e.len == l, |e| h4(e.addr, e.len))
                    .or_insert(V4 {
                        addr: a,
                        value: init.value,
                        len: l,
                        flags: init.flags,
                    })
                    .into_mut();
                SlotMut {
                    value: &mut e.value,
                    flags: &mut e.flags,
                }
            }
            Key::V6(a, l) => {
                let h = h6(&a, l);
                let e = self
                    .v6
                    .shard_mut(h)
                    .entry(h, |e| e.addr == a && e.len == l, |e| h6(&e.addr, e.len))
                    .or_insert(V6 {
                        addr: a,
                        value: init.value,
                        len: l,
                        flags: init.flags,
                    })
                    .into_mut();
                SlotMut {
                    value: &mut e.value,
                    flags: &mut e.flags,
                }
            }
        }
    }

    pub fn remove(&mut self, p: &IpNetwork) -> Option<Slot> {
        match key(p) {
            Key::V4(a, l) => {
                let h = h4(a, l);
                let removed = self
                    .v4
                    .shard_mut(h)
                    .find_entry(h, |e| e.addr == a && e.len == l)
                    .ok()
                    .map(|o| {
                        let (e, _) = o.remove();
                        Slot {
                            value: e.value,
                            flags: e.flags,
                        }
                    });
                self.v4.maybe_shrink(h, |e| h4(e.addr, e.len));
                removed
            }
            Key::V6(a, l) => {
                let h = h6(&a, l);
                let removed = self
                    .v6
                    .shard_mut(h)
                    .find_entry(h, |e| e.addr == a && e.len == l)
                    .ok()
                    .map(|o| {
                        let (e, _) = o.remove();
                        Slot {
                            value: e.value,
                            flags: e.flags,
                        }
                    });
                self.v6.maybe_shrink(h, |e| h6(&e.addr, e.len));
                removed
            }
        }
    }

    /// Every entry (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (IpNetwork, Slot)> + '_ {
        let v4 = self.v4.iter().filter_map(|e| {
            v4_prefix(e).map(|p| {
                (
                    p,
                    Slot {
                        value: e.value,
                        flags: e.flags,
                    },
                )
            })
        });
        let v6 = self.v6.iter().filter_map(|e| {
            v6_prefix(e).map(|p| {
                (
                    p,
                    Slot {
                        value: e.value,
                        flags: e.flags,
                    },
                )
            })
        });
        v4.chain(v6)
    }

    /// Calls `f` on every entry with mutable access to its value and flags.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(IpNetwork, SlotMut<'_>)) {
        for e in self.v4.iter_mut() {
            if let Some(p) = v4_prefix(e) {
                f(
                    p,
                    SlotMut {
                        value: &mut e.value,
                        flags: &mut e.flags,
                    },
                );
            }
        }
        for e in self.v6.iter_mut() {
            if let Some(p) = v6_prefix(e) {
                f(
                    p,
                    SlotMut {
                        value: &mut e.value,
                        flags: &mut e.flags,
                    },
                );
            }
        }
    }
}

/// The address family's full length for `a`.
pub(crate) fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

/// `p` with its host bits cleared.
pub(crate) fn normalize(p: IpNetwork) -> IpNetwork {
    IpNetwork::new(p.network(), p.prefix()).unwrap_or(p)
}

/// Whether `inner` is `outer` or a more specific prefix inside it.
pub(crate) fn covers(outer: &IpNetwork, inner: &IpNetwork) -> bool {
    outer.is_ipv4() == inner.is_ipv4()
        && outer.prefix() <= inner.prefix()
        && outer.contains(inner.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpNetwork {
        s.parse().expect("test prefix")
    }

    #[test]
    fn entry_sizes_stay_small() {
        assert_eq!(std::mem::size_of::<V4>(), 12);
        assert_eq!(std::mem::size_of::<V6>(), 24);
    }

    #[test]
    fn insert_get_remove_both_families() {
        let mut t = PrefixTable::default();
        for s in ["10.0.0.0/24", "10.0.0.0/25", "fd00::/64", "fd00::/65"] {
            let slot = t.get_or_insert(&p(s), Slot { value: 1, flags: 0 });
            *slot.value += 1;
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(&p("10.0.0.0/25")), Some(Slot { value: 2, flags: 0 }));
        // Host bits do not make another key.
        assert_eq!(t.get(&p("10.0.0.7/24")), Some(Slot { value: 2, flags: 0 }));
        if let Some(s) = t.get_mut(&p("fd00::/64")) {
            *s.flags = 7;
        }
        assert_eq!(t.get(&p("fd00::/64")), Some(Slot { value: 2, flags: 7 }));
        assert_eq!(t.remove(&p("fd00::/65")), Some(Slot { value: 2, flags: 0 }));
        assert_eq!(t.get(&p("fd00::/65")), None);
        let mut all: Vec<_> = t.iter().map(|(p, _)| p.to_string()).collect();
        all.sort();
        assert_eq!(all, ["10.0.0.0/24", "10.0.0.0/25", "fd00::/64"]);
    }

    #[test]
    fn many_prefixes_and_shrink() {
        let mut t = PrefixTable::default();
        for i in 0..50_000u32 {
            let net = Ipv4Network::new(Ipv4Addr::from(0x1000_0000 + (i << 8)), 24)
                .map(IpNetwork::V4)
                .expect("valid");
            t.get_or_insert(&net, Slot { value: i, flags: 0 });
        }
        assert_eq!(t.len(), 50_000);
        for i in 0..49_990u32 {
            let net = Ipv4Network::new(Ipv4Addr::from(0x1000_0000 + (i << 8)), 24)
                .map(IpNetwork::V4)
                .expect("valid");
            assert!(t.remove(&net).is_some());
        }
        assert_eq!(t.len(), 10);
        let capacity: usize = t.v4.shards.iter().map(HashTable::capacity).sum();
        assert!(capacity < 4096, "{capacity}");
    }

    #[test]
    fn shards_share_the_load() {
        let mut t = PrefixTable::default();
        for i in 0..64_000u32 {
            let net = Ipv4Network::new(Ipv4Addr::from(0x1000_0000 + (i << 8)), 24)
                .map(IpNetwork::V4)
                .expect("valid");
            t.get_or_insert(&net, Slot { value: i, flags: 0 });
        }
        for s in &t.v4.shards {
            assert!((800..1200).contains(&s.len()), "{}", s.len());
        }
        assert_eq!(t.iter().count(), 64_000);
    }

    #[test]
    fn covers_is_equal_or_more_specific() {
        assert!(covers(&p("10.244.0.0/16"), &p("10.244.1.0/24")));
        assert!(covers(&p("10.244.1.0/24"), &p("10.244.1.0/24")));
        assert!(!covers(&p("10.244.1.0/24"), &p("10.244.0.0/16")));
        assert!(!covers(&p("10.244.1.0/24"), &p("fd00::/64")));
        assert!(covers(&p("0.0.0.0/0"), &p("1.2.3.4/32")));
    }
}
