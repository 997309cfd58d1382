//! Inquiry filtering and data quality: normalised forms of what people typed, and the
//! verification that decides whether a lead is real and reachable.

pub mod matching;
pub mod normalize;
pub mod verify;
