//! Nurturing: email templates, the sequences leads walk through, and open/click tracking
//! in what they are sent.

pub mod sequence;
pub mod template;
pub mod tracking;
