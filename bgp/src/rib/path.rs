//! A candidate route as the prefix table stores it: one pointer a prefix.
//!
//! Everything a path says besides its prefix — which peer it came from and that peer's
//! constants (address, BGP Identifier, iBGP or eBGP), the attributes, the next hop and whether
//! that next hop is usable — is the same for every prefix one UPDATE carries. So it lives once
//! in a [`PathData`], interned by `adj_rib_in::Interner`, and a [`Path`] is an `Arc` of it:
//! 8 bytes per prefix where the fields inline took 56 (56 MiB for a million prefixes).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;
use std::sync::Arc;

use super::PathSource;
use crate::wire::PathAttributes;

/// What a [`Path`] points at: the route's source, attributes and next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathData {
    pub source: PathSource,
    /// The peer's address; `None` for our own prefixes.
    pub peer_address: Option<IpAddr>,
    /// The peer's BGP Identifier (our router ID for our own prefixes).
    pub peer_bgp_id: Ipv4Addr,
    pub ibgp: bool,
    /// The attributes as received (interned), MP_REACH_NLRI and MP_UNREACH_NLRI removed;
    /// LOCAL_PREF removed for routes from external peers (RFC 4271 §5.1.5).
    pub attrs: Arc<PathAttributes>,
    /// From NEXT_HOP (IPv4) or MP_REACH_NLRI (the global address, else the link-local one).
    pub next_hop: Option<IpAddr>,
    /// False when the next hop is missing or one of our own addresses: the path is kept but
    /// never selected (RFC 4271 §9.1.2).
    pub eligible: bool,
}

/// One candidate route for a prefix: a shared handle on its [`PathData`], whose fields it
/// derefs to (`path.source`, `path.attrs`, `path.next_hop`, …). Two paths are equal when their
/// data are.
#[derive(Clone, PartialEq, Eq)]
pub struct Path(Arc<PathData>);

impl Path {
    pub fn new(data: PathData) -> Path {
        Path(Arc::new(data))
    }

    /// The data of this path alone, for changing it: copied first if other paths share it
    /// (they keep the old data).
    pub fn make_mut(&mut self) -> &mut PathData {
        Arc::make_mut(&mut self.0)
    }

    /// Whether both handles point at the same data.
    pub(crate) fn ptr_eq(&self, other: &Path) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn as_ptr(&self) -> *const PathData {
        Arc::as_ptr(&self.0)
    }

    /// How many handles share the data (the interner's included).
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl From<PathData> for Path {
    fn from(data: PathData) -> Path {
        Path::new(data)
    }
}

impl Deref for Path {
    type Target = PathData;

    fn deref(&self) -> &PathData {
        &self.0
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(id: u32) -> PathData {
        PathData {
            source: PathSource::Peer(id),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            peer_bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            ibgp: false,
            attrs: Arc::default(),
            next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            eligible: true,
        }
    }

    #[test]
    fn a_path_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Path>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn equality_is_by_value_and_make_mut_copies_shared_data() {
        let a = Path::new(data(1));
        let b = Path::new(data(1));
        assert_eq!(a, b);
        assert!(!a.ptr_eq(&b));
        let mut c = a.clone();
        assert!(c.ptr_eq(&a) && a.handles() == 2);
        c.make_mut().eligible = false;
        assert!(a.eligible && !c.eligible, "the shared data is left alone");
        assert_ne!(a, c);
        assert_eq!(format!("{a:?}"), format!("{:?}", data(1)));
    }
}
