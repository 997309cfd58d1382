//! Reading a public form post whatever its encoding: `application/x-www-form-urlencoded`
//! in the charset the form declares (`encoding`, as Salesforce forms send it) or
//! `multipart/form-data`. Bytes that are not valid in the declared charset never fail the
//! post: undeclared non-UTF-8 text is read as Windows-1252, as browsers do.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Why a post could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(
        "the form was sent as '{0}'; send application/x-www-form-urlencoded or multipart/form-data"
    )]
    MediaType(String),
    #[error("the form is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the form could not be read: {0}")]
    Unreadable(String),
}

/// The charset named by an `encoding` parameter, if Leadline knows it.
pub fn charset(label: Option<&str>) -> Option<&'static Encoding> {
    label.and_then(|l| Encoding::for_label(l.trim().as_bytes()))
}

fn decode_text(bytes: &[u8], enc: Option<&'static Encoding>) -> String {
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

/// Reads the form fields of a post, in order. `query_encoding` is the `encoding` query
/// parameter of the action URL; an `encoding` field in the body wins over it only when
/// the body is ASCII-compatible enough to read the field.
pub async fn read_form(
    req: Request,
    query_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, String)>, BodyError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| BodyError::Unreadable(e.body_text()))?;
        let mut out = Vec::new();
        let mut total = 0usize;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| BodyError::Unreadable(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_owned();
            if field.file_name().is_some() {
                // Files are not lead data; note that one was sent.
                out.push((name, "(file not accepted)".into()));
                continue;
            }
            let bytes = field
                .bytes()
                .await
                .map_err(|e| BodyError::Unreadable(e.body_text()))?;
            total += bytes.len();
            if total > limit {
                return Err(BodyError::TooLarge(limit));
            }
            out.push((name, decode_text(&bytes, charset(query_encoding))));
        }
        return Ok(out);
    }
    if !(ctype.is_empty() || ctype.starts_with("application/x-www-form-urlencoded")) {
        return Err(BodyError::MediaType(ctype));
    }
    let declared = ctype
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("charset="))
        .next()
        .map(|s| s.trim_matches('"').to_owned());
    let bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| BodyError::TooLarge(limit))?;
    let mut enc = charset(query_encoding).or_else(|| charset(declared.as_deref()));
    if enc.is_none() {
        // A hidden `encoding` field (older Salesforce forms) names the charset.
        enc = decode_urlencoded(&bytes, None)
            .into_iter()
            .find(|(k, _)| k == "encoding")
            .and_then(|(_, v)| charset(Some(&v)));
    }
    Ok(decode_urlencoded(&bytes, enc))
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
