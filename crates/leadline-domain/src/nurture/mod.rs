//! Nurturing: email templates and their plain-text part, the sequences leads walk through,
//! and open/click tracking in what they are sent.

pub mod plain_text;
pub mod sequence;
pub mod template;
pub mod tracking;
