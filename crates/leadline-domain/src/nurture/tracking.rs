//! Open and click tracking in sent HTML: every web link is replaced by a tracked link
//! (stored with its target, so the redirect can never be pointed elsewhere) and an open
//! pixel is added at the end of the body.

use lol_html::html_content::ContentType;
use lol_html::{RewriteStrSettings, element, rewrite_str};

/// Most links tracked in one message; any after that are left as they are.
pub const MAX_TRACKED_LINKS: usize = 50;

/// A message's HTML with its links tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub html: String,
    /// (token, target) of each tracked link, in document order.
    pub links: Vec<(String, String)>,
}

/// True for a link worth tracking: an absolute http(s) URL (not `mailto:`, `tel:`, anchors
/// or Leadline's own unsubscribe link, which starts with the `{leadline}` placeholder).
fn trackable(url: &str) -> bool {
    url.len() <= 2048
        && url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Replaces each web link's `href` with `link_url(token)` for a fresh `token()` and adds
/// the open pixel `pixel_url` at the end of the body. HTML the rewriter cannot read is
/// returned untouched (no tracking beats a broken message).
pub fn track(
    html: &str,
    pixel_url: &str,
    mut token: impl FnMut() -> String,
    link_url: impl Fn(&str) -> String,
) -> Tracked {
    let links = std::cell::RefCell::new(Vec::new());
    let saw_body = std::cell::Cell::new(false);
    let pixel = format!(
        r#"<img src="{}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">"#,
        html_escape::encode_double_quoted_attribute(pixel_url)
    );
    let result = rewrite_str(
        html,
        RewriteStrSettings::new()
            .append_element_content_handler(element!("a[href]", |el| {
                let Some(raw) = el.get_attribute("href") else {
                    return Ok(());
                };
                let target = html_escape::decode_html_entities(raw.trim()).into_owned();
                if links.borrow().len() >= MAX_TRACKED_LINKS || !trackable(&target) {
                    return Ok(());
                }
                let t = token();
                el.set_attribute("href", &link_url(&t))?;
                links.borrow_mut().push((t, target));
                Ok(())
            }))
            .append_element_content_handler(element!("body", |el| {
                if !saw_body.replace(true) {
                    el.append(&pixel, ContentType::Html);
                }
                Ok(())
            })),
    );
    match result {
        Ok(mut out) => {
            if !saw_body.get() {
                out.push_str(&pixel);
            }
            Tracked {
                html: out,
                links: links.into_inner(),
            }
        }
        Err(_) => Tracked {
            html: html.to_owned(),
            links: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(html: &str) -> Tracked {
        let mut n = 0;
        track(
            html,
            "{leadline}/o/PX.gif",
            || {
                n += 1;
                format!("t{n}")
            },
            |t| format!("{{leadline}}/r/{t}"),
        )
    }

    #[test]
    fn web_links_are_replaced_and_kept_with_their_target() {
        let t = run(
            r#"<html><body><p><a href="https://acme.example/p?a=1&amp;b=2">Pricing</a>
<a href="mailto:x@acme.example">mail</a> <a href="{leadline}/u/abc">Unsubscribe</a>
<a href="https:&#x2f;&#x2f;acme.example&#x2f;case">case</a></p></body></html>"#,
        );
        assert_eq!(
            t.links,
            vec![
                ("t1".into(), "https://acme.example/p?a=1&b=2".into()),
                ("t2".into(), "https://acme.example/case".into())
            ]
        );
        assert!(t.html.contains(r#"<a href="{leadline}/r/t1">Pricing</a>"#));
        assert!(t.html.contains(r#"href="mailto:x@acme.example""#));
        assert!(t.html.contains(r#"href="{leadline}/u/abc""#));
        let pixel = t.html.find("/o/PX.gif").unwrap();
        assert!(pixel < t.html.find("</body>").unwrap());
    }

    #[test]
    fn a_fragment_gets_the_pixel_at_the_end() {
        let t = run("<p>Hello</p>");
        assert!(t.html.starts_with("<p>Hello</p><img"));
        assert!(t.links.is_empty());
    }

    #[test]
    fn links_beyond_the_limit_are_left_alone() {
        let html: String = (0..60)
            .map(|i| format!(r#"<a href="https://x.example/{i}">{i}</a>"#))
            .collect();
        let t = run(&html);
        assert_eq!(t.links.len(), MAX_TRACKED_LINKS);
        assert!(t.html.contains(r#"href="https://x.example/59""#));
    }
}
