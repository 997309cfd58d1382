//! A tracking call as the snippet posts it (JSON): checked, its touch (UTM parameters,
//! referrer) read from the page address, bot detection on the user agent.
#![no_main]

use leadline_domain::tracking::{TrackedEvent, is_bot, touch_from_page, valid_visitor_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = is_bot(Some(text));
        let _ = valid_visitor_id(text);
        let (url, referrer) = text.split_once('\n').unwrap_or((text, ""));
        let _ = touch_from_page(Some(url), Some(referrer));
    }
    let Ok(event) = serde_json::from_slice::<TrackedEvent>(data) else {
        return;
    };
    if let Ok(event) = event.clean() {
        let _ = event.activity_properties();
    }
});
