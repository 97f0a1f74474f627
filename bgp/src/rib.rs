//! Adj-RIB-In, Loc-RIB and export (RFC 4271 §9). Written by the RIB work item.
