//! Nurturing: email templates and the sequences leads walk through.

pub mod sequence;
pub mod template;
