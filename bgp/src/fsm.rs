//! RFC 4271 §8 session state machine (sans-IO). Written by the FSM work item.
