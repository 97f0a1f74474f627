//! UPDATE message (RFC 4271 §4.3).
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use super::attr::{AttrFault, PathAttributes};
use super::prefix::Prefix;

/// An UPDATE. IPv4 unicast prefixes travel in `withdrawn` / `nlri`; other families inside
/// `attributes.mp_reach` / `attributes.mp_unreach`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub withdrawn: Vec<Prefix>,
    pub attributes: PathAttributes,
    pub nlri: Vec<Prefix>,
    /// Attribute faults RFC 7606 lets us survive: each was discarded, or made the whole
    /// UPDATE treat-as-withdraw. Empty for a well-formed UPDATE. Never part of `encode`.
    pub faults: Vec<AttrFault>,
}

impl Update {
    /// RFC 7606 §2: one treat-as-withdraw fault turns every announced prefix into a withdraw.
    pub fn treat_as_withdraw(&self) -> bool {
        self.faults
            .iter()
            .any(|f| f.action == super::attr::AttrAction::TreatAsWithdraw)
    }

    /// An End-of-RIB marker (RFC 4724 §2): an UPDATE with nothing in it, or an MP_UNREACH_NLRI
    /// with no prefixes and no other attribute.
    pub fn is_end_of_rib(&self) -> bool {
        let a = &self.attributes;
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return false;
        }
        let only_mp_unreach = a.origin.is_none()
            && a.as_path.is_none()
            && a.next_hop.is_none()
            && a.mp_reach.is_none()
            && a.unknown.is_empty();
        match &a.mp_unreach {
            None => *a == PathAttributes::default(),
            Some(u) => only_mp_unreach && u.withdrawn.is_empty(),
        }
    }
}
