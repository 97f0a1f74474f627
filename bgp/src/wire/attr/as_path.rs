//! AS_PATH and AS4_PATH segments (RFC 4271 §4.3, RFC 5065 §3, RFC 6793 §4).
//!
//! ```text
//! +------------------------------+
//! | path segment type (1 octet)  |   1 AS_SET, 2 AS_SEQUENCE,
//! +------------------------------+   3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET
//! | path segment length (1 octet)|   number of ASes, not octets
//! +------------------------------+
//! | path segment value           |   2 or 4 octets per AS
//! +------------------------------+
//! ```
//!
//! ASes are 4 octets on a session where both sides sent the 4-octet AS capability, 2 octets
//! otherwise; AS4_PATH always uses 4 (RFC 6793 §3).

use bytes::{BufMut, BytesMut};

use super::{AsPath, AsPathSegment};
use crate::wire::AS_TRANS;

/// Segment type codes (RFC 4271 §4.3, RFC 5065 §3).
mod segment_type {
    pub const AS_SET: u8 = 1;
    pub const AS_SEQUENCE: u8 = 2;
    pub const AS_CONFED_SEQUENCE: u8 = 3;
    pub const AS_CONFED_SET: u8 = 4;
}

/// Most ASes one segment can hold: its length is one octet.
const MAX_SEGMENT: usize = 255;

impl AsPathSegment {
    /// The ASes of this segment.
    pub fn asns(&self) -> &[u32] {
        match self {
            AsPathSegment::Sequence(v)
            | AsPathSegment::Set(v)
            | AsPathSegment::ConfedSequence(v)
            | AsPathSegment::ConfedSet(v) => v,
        }
    }

    fn type_code(&self) -> u8 {
        match self {
            AsPathSegment::Set(_) => segment_type::AS_SET,
            AsPathSegment::Sequence(_) => segment_type::AS_SEQUENCE,
            AsPathSegment::ConfedSequence(_) => segment_type::AS_CONFED_SEQUENCE,
            AsPathSegment::ConfedSet(_) => segment_type::AS_CONFED_SET,
        }
    }

    fn is_confed(&self) -> bool {
        matches!(
            self,
            AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_)
        )
    }

    /// This segment's share of the path length (RFC 4271 §9.1.2.2 (a): "an AS_SET counts as 1,
    /// no matter how many ASes are in the set"; RFC 5065 §5.3: confederation segments do not
    /// count).
    fn path_length(&self) -> usize {
        match self {
            AsPathSegment::Sequence(v) => v.len(),
            AsPathSegment::Set(_) => 1,
            AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_) => 0,
        }
    }
}

impl AsPath {
    /// An AS_PATH of one AS_SEQUENCE (empty for an empty list).
    pub fn from_sequence(asns: Vec<u32>) -> AsPath {
        let segments = if asns.is_empty() {
            Vec::new()
        } else {
            vec![AsPathSegment::Sequence(asns)]
        };
        AsPath { segments }
    }

    /// The path length the decision process compares (RFC 4271 §9.1.2.2 (a), RFC 5065 §5.3);
    /// also the count RFC 6793 §4.2.3 uses to merge AS4_PATH.
    pub fn path_length(&self) -> usize {
        self.segments.iter().map(AsPathSegment::path_length).sum()
    }
}

/// Why a path's octets are malformed (RFC 7606 §7.2).
pub(crate) type Malformed = &'static str;

/// Decodes the segments of an AS_PATH (or AS4_PATH with `four` set).
///
/// RFC 7606 §7.2: "An AS_PATH is considered malformed if an unrecognized segment type is
/// encountered or if it contains a malformed segment. A segment is considered malformed if any
/// of the following are true: There is an overrun where the Path Segment Length field of the
/// last segment encountered would cause the Attribute Length to be exceeded. There is an
/// underrun where after the last successfully parsed segment there is only a single octet
/// remaining [...]. It has a Path Segment Length field of zero." RFC 7607 §2 adds AS 0.
pub(crate) fn decode_segments(
    mut value: &[u8],
    four: bool,
) -> Result<Vec<AsPathSegment>, Malformed> {
    let asn_len = if four { 4 } else { 2 };
    let mut segments = Vec::new();
    while !value.is_empty() {
        let [seg_type, count, rest @ ..] = value else {
            return Err("a single octet left after the last segment");
        };
        let count = usize::from(*count);
        if count == 0 {
            return Err("segment of length zero");
        }
        let Some((asns, rest)) = rest.split_at_checked(count * asn_len) else {
            return Err("segment overruns the attribute");
        };
        let asns: Vec<u32> = if four {
            asns.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            asns.chunks_exact(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .collect()
        };
        // RFC 7607 §2: "An UPDATE message that contains the AS number of zero in the AS_PATH
        // [...] MUST be considered as malformed".
        if asns.contains(&0) {
            return Err("AS 0 in the path (RFC 7607)");
        }
        segments.push(match *seg_type {
            segment_type::AS_SET => AsPathSegment::Set(asns),
            segment_type::AS_SEQUENCE => AsPathSegment::Sequence(asns),
            segment_type::AS_CONFED_SEQUENCE => AsPathSegment::ConfedSequence(asns),
            segment_type::AS_CONFED_SET => AsPathSegment::ConfedSet(asns),
            _ => return Err("unrecognized segment type"),
        });
        value = rest;
    }
    Ok(segments)
}

/// Decodes an AS4_PATH: like AS_PATH with 4-octet ASes, minus confederation segments.
///
/// RFC 6793 §6: "the path segment types AS_CONFED_SEQUENCE and AS_CONFED_SET [...] MUST NOT
/// be carried in the AS4_PATH attribute of an UPDATE message. A NEW BGP speaker that receives
/// these path segment types in the AS4_PATH attribute of an UPDATE message from an OLD BGP
/// speaker MUST discard these path segments, adjust the relevant attribute fields accordingly,
/// and continue processing the UPDATE message."
pub(crate) fn decode_as4_path(value: &[u8]) -> Result<AsPath, Malformed> {
    let mut segments = decode_segments(value, true)?;
    segments.retain(|s| !s.is_confed());
    Ok(AsPath { segments })
}

/// The segments as sent: AS4_PATH (`as4`) leaves out confederation segments (RFC 6793 §6),
/// empty segments are never sent (RFC 7606 §7.2 would make them malformed), and a segment of
/// more than 255 ASes is split.
fn sent_segments(path: &AsPath, as4: bool) -> impl Iterator<Item = (u8, &[u32])> {
    path.segments
        .iter()
        .filter(move |s| !(as4 && s.is_confed()))
        .flat_map(|s| {
            s.asns()
                .chunks(MAX_SEGMENT)
                .map(move |c| (s.type_code(), c))
        })
}

/// Octets of the AS_PATH (`as4` false) or AS4_PATH (`as4` true) value.
pub(crate) fn value_len(path: &AsPath, four: bool, as4: bool) -> usize {
    let asn_len = if four || as4 { 4 } else { 2 };
    sent_segments(path, as4)
        .map(|(_, asns)| 2 + asn_len * asns.len())
        .sum()
}

/// Writes the AS_PATH (`as4` false) or AS4_PATH (`as4` true) value. With 2-octet ASes, an AS
/// above 65535 is written as AS_TRANS (RFC 6793 §4.2.2).
pub(crate) fn write(path: &AsPath, four: bool, as4: bool, out: &mut BytesMut) {
    for (seg_type, asns) in sent_segments(path, as4) {
        out.put_u8(seg_type);
        out.put_u8(asns.len() as u8);
        for &asn in asns {
            if four || as4 {
                out.put_u32(asn);
            } else {
                out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
            }
        }
    }
}

/// Whether a 2-octet peer needs AS4_PATH to learn the real path: some AS outside the
/// confederation segments does not fit 2 octets (RFC 6793 §4.2.2).
pub(crate) fn needs_as4_path(path: &AsPath) -> bool {
    path.segments
        .iter()
        .filter(|s| !s.is_confed())
        .any(|s| s.asns().iter().any(|&asn| asn > u32::from(u16::MAX)))
}

/// Rebuilds the path from AS_PATH and AS4_PATH received from a 2-octet speaker.
///
/// RFC 6793 §4.2.3: "If the number of AS numbers in the AS_PATH attribute is less than the
/// number of AS numbers in the AS4_PATH attribute, then the AS4_PATH attribute SHALL be
/// ignored, and the AS_PATH attribute SHALL be taken as the AS path information. If the number
/// of AS numbers in the AS_PATH attribute is larger than or equal to the number of AS numbers
/// in the AS4_PATH attribute, then the AS path information SHALL be constructed by taking as
/// many AS numbers and path segments as necessary from the leading part of the AS_PATH
/// attribute, and then prepending them to the AS4_PATH attribute so that the AS path
/// information has a number of AS numbers identical to that of the AS_PATH attribute. Note
/// that a valid AS_CONFED_SEQUENCE or AS_CONFED_SET path segment SHALL be prepended if it is
/// either the leading path segment or is adjacent to a path segment that is prepended."
///
/// ASes are counted as for the decision process: an AS_SET is one, confederation segments
/// none.
pub(crate) fn merge_as4_path(as_path: &AsPath, as4_path: &AsPath) -> AsPath {
    let total = as_path.path_length();
    let Some(mut needed) = total.checked_sub(as4_path.path_length()) else {
        return as_path.clone();
    };
    let mut segments = Vec::with_capacity(as_path.segments.len() + as4_path.segments.len());
    for segment in &as_path.segments {
        match segment {
            // Every segment before this one was prepended, so a confederation segment here is
            // leading or adjacent to a prepended one.
            AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_) => {
                segments.push(segment.clone());
            }
            AsPathSegment::Set(_) if needed >= 1 => {
                segments.push(segment.clone());
                needed -= 1;
            }
            AsPathSegment::Sequence(asns) if needed >= 1 => {
                let take = needed.min(asns.len());
                segments.push(AsPathSegment::Sequence(asns[..take].to_vec()));
                needed -= take;
            }
            _ => break,
        }
    }
    let mut as4_segments = as4_path.segments.iter();
    // Join a prepended AS_SEQUENCE with a leading AS4_PATH one when the result still fits one
    // segment: the path as the OLD speaker that prepended itself saw it.
    if let (Some(AsPathSegment::Sequence(last)), Some(AsPathSegment::Sequence(next))) =
        (segments.last_mut(), as4_path.segments.first())
    {
        if last.len() + next.len() <= MAX_SEGMENT {
            last.extend_from_slice(next);
            as4_segments.next();
        }
    }
    segments.extend(as4_segments.cloned());
    AsPath { segments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AsPathSegment::{ConfedSequence, ConfedSet, Sequence, Set};

    fn encode(path: &AsPath, four: bool, as4: bool) -> Vec<u8> {
        let mut out = BytesMut::new();
        write(path, four, as4, &mut out);
        assert_eq!(out.len(), value_len(path, four, as4));
        out.to_vec()
    }

    #[test]
    fn two_octet_both_ways() {
        // AS_SEQUENCE 65001 65002, AS_SET {100 200}.
        let bytes = [2, 2, 0xfd, 0xe9, 0xfd, 0xea, 1, 2, 0, 100, 0, 200];
        let path = AsPath {
            segments: vec![Sequence(vec![65001, 65002]), Set(vec![100, 200])],
        };
        assert_eq!(decode_segments(&bytes, false), Ok(path.segments.clone()));
        assert_eq!(encode(&path, false, false), bytes);
    }

    #[test]
    fn four_octet_both_ways() {
        // AS_CONFED_SEQUENCE 64512, AS_SEQUENCE 4200000000.
        let bytes = [3, 1, 0, 0, 0xfc, 0x00, 2, 1, 0xfa, 0x56, 0xea, 0x00];
        let path = AsPath {
            segments: vec![ConfedSequence(vec![64512]), Sequence(vec![4_200_000_000])],
        };
        assert_eq!(decode_segments(&bytes, true), Ok(path.segments.clone()));
        assert_eq!(encode(&path, true, false), bytes);
    }

    #[test]
    fn toward_a_two_octet_peer() {
        let path = AsPath {
            segments: vec![ConfedSet(vec![64600]), Sequence(vec![65001, 4_200_000_000])],
        };
        assert!(needs_as4_path(&path));
        // AS_PATH: the big AS becomes AS_TRANS (23456 = 0x5ba0).
        assert_eq!(
            encode(&path, false, false),
            [4, 1, 0xfc, 0x58, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0]
        );
        // AS4_PATH: 4-octet ASes, no confederation segment.
        assert_eq!(
            encode(&path, false, true),
            [2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x00]
        );
        assert!(!needs_as4_path(&AsPath::from_sequence(vec![65001, 23456])));
    }

    #[test]
    fn long_segments_are_split() {
        let path = AsPath::from_sequence((1..=300).collect());
        let bytes = encode(&path, true, false);
        assert_eq!(bytes.len(), 2 + 255 * 4 + 2 + 45 * 4);
        assert_eq!((bytes[0], bytes[1]), (2, 255));
        assert_eq!((bytes[2 + 255 * 4], bytes[3 + 255 * 4]), (2, 45));
        let back = decode_segments(&bytes, true).expect("split path decodes");
        assert_eq!(back.len(), 2);
        assert_eq!(AsPath { segments: back }.path_length(), 300);
    }

    #[test]
    fn malformed_paths() {
        for (bytes, four) in [
            (&[5u8, 1, 0, 1][..], false),  // segment type 5
            (&[0, 1, 0, 1][..], false),    // segment type 0
            (&[2, 0][..], false),          // zero-length segment
            (&[2, 2, 0, 1][..], false),    // overrun
            (&[2, 1, 0, 1, 2][..], false), // one octet left over
            (&[2, 1, 0, 0][..], false),    // AS 0
            (&[2, 1, 0, 0, 0, 1, 9][..], true),
        ] {
            assert!(decode_segments(bytes, four).is_err(), "{bytes:?}");
        }
        assert_eq!(decode_segments(&[], false), Ok(vec![]));
    }

    #[test]
    fn path_length_counts() {
        let path = AsPath {
            segments: vec![
                ConfedSequence(vec![1, 2, 3]),
                Sequence(vec![10, 20]),
                Set(vec![30, 40, 50]),
            ],
        };
        assert_eq!(path.path_length(), 3);
    }

    #[test]
    fn as4_path_drops_confed_segments() {
        let bytes = [3, 1, 0, 0, 0, 9, 2, 1, 0, 0, 0, 7];
        assert_eq!(decode_as4_path(&bytes), Ok(AsPath::from_sequence(vec![7])));
    }

    #[test]
    fn merge_per_rfc_6793() {
        let t = u32::from(AS_TRANS);
        // An OLD speaker (65010) prepended itself to a path learned with a 4-octet AS.
        let as_path = AsPath::from_sequence(vec![65010, 65001, t]);
        let as4 = AsPath::from_sequence(vec![65001, 4_200_000_000]);
        assert_eq!(
            merge_as4_path(&as_path, &as4),
            AsPath::from_sequence(vec![65010, 65001, 4_200_000_000])
        );
        // Equal counts: AS4_PATH is the path, leading confederation segments kept.
        let as_path = AsPath {
            segments: vec![ConfedSequence(vec![64512]), Sequence(vec![t])],
        };
        let as4 = AsPath::from_sequence(vec![4_200_000_000]);
        assert_eq!(
            merge_as4_path(&as_path, &as4),
            AsPath {
                segments: vec![ConfedSequence(vec![64512]), Sequence(vec![4_200_000_000])]
            }
        );
        // Segments inside AS4_PATH are kept as they are (found by proptest: two sequences
        // must not be joined into one).
        let as_path = AsPath {
            segments: vec![Sequence(vec![1]), Sequence(vec![t])],
        };
        let as4 = AsPath {
            segments: vec![Sequence(vec![1]), Sequence(vec![65536])],
        };
        assert_eq!(merge_as4_path(&as_path, &as4), as4);
        // AS4_PATH longer than AS_PATH: ignored.
        let as_path = AsPath::from_sequence(vec![65010]);
        let as4 = AsPath::from_sequence(vec![1, 2]);
        assert_eq!(merge_as4_path(&as_path, &as4), as_path);
        // An AS_SET counts as one; it is prepended whole.
        let as_path = AsPath {
            segments: vec![Set(vec![1, 2]), Sequence(vec![65010, t])],
        };
        let as4 = AsPath::from_sequence(vec![65010, 4_200_000_000]);
        assert_eq!(
            merge_as4_path(&as_path, &as4),
            AsPath {
                segments: vec![Set(vec![1, 2]), Sequence(vec![65010, 4_200_000_000])]
            }
        );
    }
}
