//! The few places where SQLite and PostgreSQL need different SQL.

use crate::db::Backend;
use crate::sql::{Bind, Sql};

/// `custom.<key> = value` on the JSON custom-field column.
pub fn custom_equals(sql: &mut Sql, backend: Backend, key: &str, json_value: &serde_json::Value) {
    let key = Bind::Text(key.to_owned());
    let value = Bind::Text(json_value.to_string());
    match backend {
        Backend::Postgres => {
            sql.push("(custom -> ");
            sql.bind(key);
            sql.push(") = CAST(");
            sql.bind(value);
            sql.push(" AS jsonb)");
        }
        Backend::Sqlite => {
            // `->` returns minified JSON text, which is how serde_json renders the value.
            sql.push("(custom -> ");
            sql.bind(key);
            sql.push(") = ");
            sql.bind(value);
        }
    }
}

/// `custom.<key>` (an array) contains `option`.
pub fn custom_contains(sql: &mut Sql, backend: Backend, key: &str, option: &serde_json::Value) {
    match backend {
        Backend::Postgres => {
            sql.push("(custom -> ");
            sql.bind(Bind::Text(key.to_owned()));
            sql.push(") @> CAST(");
            sql.bind(Bind::Text(
                serde_json::Value::Array(vec![option.clone()]).to_string(),
            ));
            sql.push(" AS jsonb)");
        }
        Backend::Sqlite => {
            sql.push("EXISTS (SELECT 1 FROM json_each(leads.custom, '$.' || ");
            sql.bind(Bind::Text(key.to_owned()));
            sql.push(") WHERE value = ");
            sql.bind(Bind::Text(option.as_str().unwrap_or_default().to_owned()));
            sql.push(")");
        }
    }
}

/// How SQLite should answer a text search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPlan {
    /// Ask the trigram index for every match, then sort them: best when matches are few.
    Index,
    /// Walk the list in sort order and test each row: best when matches are many, because
    /// a page fills after a short walk.
    Scan,
}

/// Above this many index matches, walking the list is cheaper than sorting every match.
pub const INDEX_MATCH_LIMIT: i64 = 5000;

/// The piece of a needle the trigram index is asked for. A long needle costs a pass over
/// every one of its trigrams' match lists, and some (`exa`, `com` in every email) match
/// nearly every row; so the index gets at most ten characters — around the `@` of an
/// email (name and domain together are rare), else the start — and the whole needle is
/// checked on the few candidates (measured at 1M leads: one email ~150 ms as a full phrase).
pub fn index_piece(needle: &str) -> String {
    let chars: Vec<char> = needle.to_lowercase().chars().collect();
    const MAX: usize = 10;
    if chars.len() <= MAX {
        return chars.into_iter().collect();
    }
    let start = match chars.iter().position(|c| *c == '@') {
        Some(at) => at.saturating_sub(MAX / 2).min(chars.len() - MAX),
        None => 0,
    };
    chars[start..start + MAX].iter().collect()
}

/// The FTS5 phrase (trigram tokenizer: a substring match) for [`index_piece`].
pub fn fts_phrase(needle: &str) -> String {
    format!("\"{}\"", index_piece(needle).replace('"', "\"\""))
}

/// Lower-cased substring search over the derived `search_text` column, served by a
/// trigram index on both engines (FTS5 on SQLite, pg_trgm on PostgreSQL).
pub fn search(sql: &mut Sql, backend: Backend, needle: &str, plan: SearchPlan) {
    let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
    match backend {
        Backend::Postgres => {
            let piece = index_piece(needle);
            if piece.chars().count() < needle.chars().count() {
                // The GIN index answers the distinctive piece; strpos (which no index
                // serves) checks the whole needle on its candidates.
                sql.push("search_text LIKE ");
                sql.bind(Bind::Text(format!("%{}%", escape_like(&piece))));
                sql.push(" ESCAPE '\\' AND strpos(search_text, ");
                sql.bind(Bind::Text(needle.to_lowercase()));
                sql.push(") > 0");
            } else {
                sql.push("search_text LIKE ");
                sql.bind(Bind::Text(pattern));
                sql.push(" ESCAPE '\\'");
            }
        }
        Backend::Sqlite => {
            // A trigram phrase query is an exact substring match that the index answers
            // alone; LIKE through FTS5 would re-read every candidate row to verify it
            // (measured at 1M leads: ~900 ms vs. tens of ms). Sorting tens of thousands of
            // matches is still slow, so common needles walk the list instead (see
            // `SearchPlan`). Below three characters there are no trigrams: always a walk.
            if needle.chars().count() >= 3 && plan == SearchPlan::Index {
                sql.push(
                    "leads.rowid IN (SELECT rowid FROM leads_search WHERE leads_search MATCH ",
                );
                sql.bind(Bind::Text(fts_phrase(needle)));
                sql.push(") AND search_text LIKE ");
                sql.bind(Bind::Text(pattern));
                sql.push(" ESCAPE '\\'");
            } else {
                sql.push("search_text LIKE ");
                sql.bind(Bind::Text(pattern));
                sql.push(" ESCAPE '\\'");
            }
        }
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Row locking for a claim sub-select over `alias`: PostgreSQL skips rows another process
/// is claiming; SQLite needs nothing (one writer at a time).
pub fn skip_locked(backend: Backend, alias: &str) -> String {
    match backend {
        Backend::Postgres => format!(" FOR UPDATE OF {alias} SKIP LOCKED"),
        Backend::Sqlite => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::index_piece;

    #[test]
    fn the_index_gets_the_distinctive_piece() {
        assert_eq!(index_piece("Smith"), "smith");
        assert_eq!(index_piece("ahmed@globex.example"), "ahmed@glob");
        assert_eq!(index_piece("david.rossi@alpine.example"), "rossi@alpi");
        assert_eq!(index_piece("x@verylongdomain.example"), "x@verylong");
        assert_eq!(index_piece("northwind traders"), "northwind ");
        assert_eq!(index_piece("ünïcödé-ñame@exämple.org").chars().count(), 10);
    }
}
