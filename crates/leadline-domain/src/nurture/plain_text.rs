//! The plain-text part of an HTML message: what a mail client without HTML shows.
//!
//! One streaming pass over the HTML with lol_html's tokenizer (the same one that tracks
//! links), so the time taken grows linearly with the message: the converter used before
//! rescanned the rest of the message for each unclosed tag and took seconds on a rendered
//! 100 KB template (found by `fuzz/templates`). Blocks become line breaks, list items get
//! a dash, links keep their target as `text (url)`, scripts, styles and the title are
//! left out, and character references are decoded.

use std::cell::RefCell;
use std::rc::Rc;

use lol_html::EndTagHandler;
use lol_html::html_content::TextType;
use lol_html::{HtmlRewriter, Settings, doc_text, element};

/// The plain-text part of an HTML message.
pub fn plain_text(html: &str) -> String {
    let writer = Rc::new(RefCell::new(Writer::default()));
    let result = {
        let on_element = Rc::clone(&writer);
        let on_text = Rc::clone(&writer);
        let mut rewriter = HtmlRewriter::new(
            Settings::new()
                .append_element_content_handler(element!("*", move |el| {
                    let name = el.tag_name();
                    on_element
                        .borrow_mut()
                        .start(&name, || el.get_attribute("href"));
                    if let Some(handlers) = el.end_tag_handlers() {
                        let w = Rc::clone(&on_element);
                        let on_end: EndTagHandler<'static> = Box::new(move |_| {
                            w.borrow_mut().end(&name);
                            Ok(())
                        });
                        handlers.push(on_end);
                    }
                    Ok(())
                }))
                .append_document_content_handler(doc_text!(move |t| {
                    let mut w = on_text.borrow_mut();
                    if t.text_type() == TextType::Data {
                        w.pending.push_str(t.as_str());
                    }
                    if t.last_in_text_node() {
                        w.flush_text();
                    }
                    Ok(())
                })),
            |_: &[u8]| {},
        );
        rewriter
            .write(html.as_bytes())
            .and_then(|()| rewriter.end())
    };
    let mut w = writer.take();
    if result.is_err() {
        // lol_html refuses a few ambiguous nestings (e.g. `<select><script>`); a message
        // still gets a text part, with the tags stripped.
        return strip_tags(html);
    }
    w.flush_text();
    w.close_link();
    w.out.trim().to_owned()
}

/// How far apart two blocks are: a line break, or an empty line between paragraphs.
fn block_gap(tag: &str) -> Option<u8> {
    Some(match tag {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol" | "dl" | "table"
        | "blockquote" | "hr" | "pre" | "figure" => 2,
        "div" | "li" | "tr" | "dt" | "dd" | "section" | "article" | "header" | "footer" | "nav"
        | "aside" | "main" | "address" | "figcaption" | "form" | "fieldset" | "center" | "body" => {
            1
        }
        _ => return None,
    })
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Raw text of the current text node (it may arrive in chunks, and a character
    /// reference may be split between two).
    pending: String,
    /// Line breaks owed before the next visible character.
    gap: u8,
    /// A space owed before the next visible character.
    space: bool,
    /// Open `<pre>` elements: whitespace inside is kept.
    pre: u32,
    /// The open link: its target and where its text starts in `out`.
    link: Option<(String, usize)>,
}

impl Writer {
    fn start(&mut self, tag: &str, href: impl FnOnce() -> Option<String>) {
        self.flush_text();
        if let Some(gap) = block_gap(tag) {
            // A link left open ends with its block, so its target stays beside its text.
            self.close_link();
            self.gap = self.gap.max(gap);
        }
        match tag {
            "br" => self.hard_break(),
            "td" | "th" => self.space = true,
            "li" => {
                self.visible("-");
                self.space = true;
            }
            "pre" => self.pre += 1,
            "a" => {
                // An `<a>` inside another closes it, as a browser does.
                self.close_link();
                if let Some(href) = href() {
                    let href = html_escape::decode_html_entities(href.trim()).into_owned();
                    self.link = Some((href, self.out.len()));
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: &str) {
        self.flush_text();
        match tag {
            "a" => self.close_link(),
            "pre" => self.pre = self.pre.saturating_sub(1),
            _ => {}
        }
        if let Some(gap) = block_gap(tag) {
            self.gap = self.gap.max(gap);
        }
    }

    fn flush_text(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.pending);
        let text = html_escape::decode_html_entities(&raw);
        if self.pre > 0 {
            for line in text.split_inclusive('\n') {
                match line.strip_suffix('\n') {
                    Some(line) => {
                        self.visible(line);
                        self.hard_break();
                    }
                    None => self.visible(line),
                }
            }
        } else {
            for (i, word) in text.split(char::is_whitespace).enumerate() {
                if i > 0 {
                    self.space = true;
                }
                self.visible(word);
            }
        }
        self.pending = raw;
        self.pending.clear();
    }

    /// Writes `s` (no line breaks in it) with the gap or space owed before it.
    fn visible(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.gap > 0 && !self.out.is_empty() {
            let have = self.out.len() - self.out.trim_end_matches('\n').len();
            for _ in have..usize::from(self.gap) {
                self.out.push('\n');
            }
        } else if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push(' ');
        }
        self.gap = 0;
        self.space = false;
        self.out.push_str(s);
    }

    fn hard_break(&mut self) {
        self.gap = 0;
        self.space = false;
        self.out.push('\n');
    }

    /// Ends the open link: its target follows its text unless the text already says it.
    fn close_link(&mut self) {
        let Some((href, from)) = self.link.take() else {
            return;
        };
        let shown = self.out.get(from..).unwrap_or_default().trim();
        let bare = href.strip_prefix("mailto:").unwrap_or(&href);
        if href.is_empty() || href.starts_with('#') || shown == href || shown == bare {
            return;
        }
        let gap = std::mem::take(&mut self.gap);
        self.space = true;
        self.visible(&format!("({href})"));
        self.gap = gap;
    }
}

/// Tags removed and character references decoded: the text part when the HTML cannot be
/// tokenized.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                text.push(' ');
            }
            (false, c) => text.push(c),
            (true, _) => {}
        }
    }
    let text = html_escape::decode_html_entities(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_lists_breaks_and_links_become_readable_text() {
        let html = "<html><head><title>Hi</title><style>p{color:red}</style></head><body>\
            <p>Hi Ada,</p><p>Thanks for   your interest in <b>Acme</b> &amp; co.</p>\
            <ul><li>One</li><li>Two</li></ul>\
            <p><a href=\"https://x.example/t/1\">Read the guide</a></p>\
            <p>Bye<br>Team</p><script>alert(1)</script>\
            <p><a href=\"https://x.example/u/abc\">Unsubscribe</a></p></body></html>";
        assert_eq!(
            plain_text(html),
            "Hi Ada,\n\nThanks for your interest in Acme & co.\n\n- One\n- Two\n\n\
             Read the guide (https://x.example/t/1)\n\nBye\nTeam\n\n\
             Unsubscribe (https://x.example/u/abc)"
        );
    }

    #[test]
    fn a_link_whose_text_is_its_target_is_not_repeated() {
        assert_eq!(
            plain_text(
                r#"Write to <a href="mailto:a@x.example">a@x.example</a> or <a href="https://x.example">https://x.example</a>."#
            ),
            "Write to a@x.example or https://x.example."
        );
        assert_eq!(plain_text(r##"<a href="#top">Top</a>"##), "Top");
    }

    #[test]
    fn table_cells_are_spaced_and_rows_are_lines() {
        assert_eq!(
            plain_text(
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>after"
            ),
            "a b\nc d\n\nafter"
        );
    }

    #[test]
    fn preformatted_text_keeps_its_lines_and_spaces() {
        assert_eq!(plain_text("<pre>a  b\n  c</pre>d"), "a  b\n  c\n\nd");
    }

    #[test]
    fn unclosed_tags_and_links_still_give_all_text_and_targets() {
        assert_eq!(
            plain_text(
                r#"<p>one <a href="https://x.example/a">A<p>two <a href="https://x.example/b">B"#
            ),
            "one A (https://x.example/a)\n\ntwo B (https://x.example/b)"
        );
    }

    #[test]
    fn plain_text_and_split_references_are_decoded() {
        assert_eq!(
            plain_text("caf&eacute; &#x1F600; &lt;b&gt; 5 &gt; 3"),
            "café 😀 <b> 5 > 3"
        );
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn markup_the_tokenizer_refuses_still_gives_its_text() {
        // lol_html's strict mode bails out of `<select><xmp><script>` (it cannot tell
        // which text is script without a tree).
        assert_eq!(
            plain_text("<p>Hi &amp; bye</p><select><xmp><script>s</script></select>end"),
            "Hi & bye s end"
        );
    }

    #[test]
    fn many_unclosed_tags_and_links_all_convert() {
        // The old converter's worst case (it rescanned the rest for each one); how long
        // it takes is measured by `fuzz/templates`, not here.
        let html: String = (0..20_000)
            .map(|i| format!("<p lead r>x <a href=\"https://x.example/{i}\">l"))
            .collect();
        let text = plain_text(&html);
        assert_eq!(text.matches("(https://x.example/").count(), 20_000);
    }
}
