//! RFC 4271 §9.1 decision process. Written by the RIB work item.
