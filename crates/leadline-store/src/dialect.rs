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

/// The FTS5 phrase the index is asked for. A phrase of many trigrams costs a pass over
/// every trigram's match list, and some (`exa`, `com` in every email) match nearly every
/// row, so the index gets a distinctive piece of the needle — the part before `@` when it
/// has one, at most ten characters — and `LIKE` checks the whole needle on the few
/// candidates (measured at 1M leads: one email took ~150 ms as a full phrase).
pub fn fts_phrase(needle: &str) -> String {
    let needle = needle.to_lowercase();
    let base = needle
        .split('@')
        .next()
        .filter(|local| local.chars().count() >= 3)
        .unwrap_or(&needle);
    let piece: String = base.chars().take(10).collect();
    format!("\"{}\"", piece.replace('"', "\"\""))
}

/// Lower-cased substring search over the derived `search_text` column, served by a
/// trigram index on both engines (FTS5 on SQLite, pg_trgm on PostgreSQL).
pub fn search(sql: &mut Sql, backend: Backend, needle: &str, plan: SearchPlan) {
    let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
    match backend {
        Backend::Postgres => {
            sql.push("search_text LIKE ");
            sql.bind(Bind::Text(pattern));
            sql.push(" ESCAPE '\\'");
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
