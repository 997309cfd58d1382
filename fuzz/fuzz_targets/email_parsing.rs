//! An inbound email as raw bytes: parsed (headers, charsets, transfer encodings, MIME
//! parts), the signature read for phone, title and company, the result validated as a lead.
#![no_main]

use leadline_domain::capture::email::{lead_fields, parse_email};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mail) = parse_email(data) {
        let fields = lead_fields(&mail);
        let _ = fields.clean(&[]);
    }
});
