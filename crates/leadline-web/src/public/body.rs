//! Reading a public form post whatever its encoding: `application/x-www-form-urlencoded`
//! in the charset the form declares (`encoding`, as Salesforce forms send it) or
//! `multipart/form-data`. Bytes that are not valid in the declared charset never fail the
//! post: undeclared non-UTF-8 text is read as Windows-1252, as browsers do.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use leadline_domain::capture::body::{charset, decode_form, decode_text};

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
    Ok(decode_form(&bytes, query_encoding, declared.as_deref()))
}
