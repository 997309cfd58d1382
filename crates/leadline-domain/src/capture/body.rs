//! Decoding what outsiders send: text in the charset they name or, when they name none,
//! UTF-8 falling back to Windows-1252 (as browsers and spreadsheets do), and urlencoded
//! form bodies. Bytes that are not valid in the declared charset never fail.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// The charset named by an `encoding` parameter, if Leadline knows it.
pub fn charset(label: Option<&str>) -> Option<&'static Encoding> {
    label.and_then(|l| Encoding::for_label(l.trim().as_bytes()))
}

/// Text in `enc`; without one (or UTF-8), UTF-8 when valid, else Windows-1252.
pub fn decode_text(bytes: &[u8], enc: Option<&'static Encoding>) -> String {
    match enc {
        Some(e) if e != UTF_8 => e.decode_without_bom_handling(bytes).0.into_owned(),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        },
    }
}

/// Decodes an urlencoded body: `+` is a space, `%XX` a byte, the bytes text in `enc`.
pub fn decode_urlencoded(body: &[u8], enc: Option<&'static Encoding>) -> Vec<(String, String)> {
    let piece = |raw: &[u8]| -> String {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        decode_text(&bytes, enc)
    };
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (piece(&p[..i]), piece(&p[i + 1..])),
            None => (piece(p), String::new()),
        })
        .collect()
}

/// The fields of an urlencoded form body, in order. The charset is the one the action URL
/// names (`?encoding=`), else the `Content-Type` charset, else a hidden `encoding` field
/// (older Salesforce forms), else UTF-8 with the Windows-1252 fallback.
pub fn decode_form(
    body: &[u8],
    query_encoding: Option<&str>,
    declared: Option<&str>,
) -> Vec<(String, String)> {
    let mut enc = charset(query_encoding).or_else(|| charset(declared));
    if enc.is_none() {
        enc = decode_urlencoded(body, None)
            .into_iter()
            .find(|(k, _)| k == "encoding")
            .and_then(|(_, v)| charset(Some(&v)));
    }
    decode_urlencoded(body, enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_declared_and_undeclared_charsets() {
        let utf8 = decode_urlencoded(b"last_name=M%C3%BCller&company=A+%26+B", None);
        assert_eq!(utf8[0].1, "Müller");
        assert_eq!(utf8[1].1, "A & B");
        let latin1 = decode_urlencoded(b"last_name=M%FCller", charset(Some("ISO-8859-1")));
        assert_eq!(latin1[0].1, "Müller");
        let undeclared = decode_urlencoded(b"last_name=M%FCller", None);
        assert_eq!(
            undeclared[0].1, "Müller",
            "invalid UTF-8 falls back to Windows-1252"
        );
        let sjis = decode_urlencoded(b"last_name=%93%FA%96%7B", charset(Some("Shift_JIS")));
        assert_eq!(sjis[0].1, "日本");
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        let p = decode_urlencoded(b"&&=&a&b=%zz&%", None);
        assert_eq!(p.len(), 4);
        assert_eq!(p[2].1, "%zz");
    }
}
