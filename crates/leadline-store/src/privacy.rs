//! A person's data across every table: read all of it (the export a data subject may ask
//! for) and erase it (the lead kept as an anonymous row so reports stay correct), and the
//! retention queries that find what is due.
//!
//! [`LEAD_TABLES`] names every table keyed by a lead; a test holds it to the schema so a
//! new table cannot be forgotten by the export.

use crate::db::{Backend, Conn};
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::{Map, Value};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use uuid::Uuid;

/// Every table holding rows about one lead, with the condition that finds them (`$1` the
/// lead's id). Derived keys and secrets are left out of the export by [`HIDDEN_COLUMNS`].
pub const LEAD_TABLES: &[(&str, &str)] = &[
    ("leads", "id = $1"),
    ("activities", "lead_id = $1"),
    ("stage_history", "lead_id = $1"),
    ("owner_history", "lead_id = $1"),
    ("consents", "lead_id = $1"),
    ("tasks", "lead_id = $1"),
    ("alerts", "lead_id = $1"),
    ("sla_clocks", "lead_id = $1"),
    ("reengagements", "lead_id = $1"),
    ("enrollments", "lead_id = $1"),
    ("outbound_messages", "lead_id = $1"),
    ("tracked_links", "lead_id = $1"),
    ("visitors", "lead_id = $1"),
    (
        "visitor_events",
        "visitor_id IN (SELECT id FROM visitors WHERE lead_id = $1)",
    ),
    ("lead_scores", "lead_id = $1"),
    ("score_history", "lead_id = $1"),
    ("lead_predictions", "lead_id = $1"),
    ("lead_quality", "lead_id = $1"),
    ("lead_enrichment", "lead_id = $1"),
    ("lead_accounts", "lead_id = $1"),
    ("lead_outcomes", "lead_id = $1"),
    ("lead_keys", "lead_id = $1"),
    ("lead_fingerprints", "lead_id = $1"),
    ("referrals", "lead_id = $1"),
    ("contacts", "lead_id = $1"),
    ("opportunities", "lead_id = $1"),
    ("duplicate_pairs", "lead_a = $1 OR lead_b = $1"),
    (
        "lead_merges",
        "survivor_id = $1 OR id IN (SELECT merge_id FROM merged_leads WHERE lead_id = $1)",
    ),
    ("merged_leads", "lead_id = $1"),
    ("events", "lead_id = $1"),
    ("suppressions", "lead_id = $1"),
    ("audit_log", "entity_id = $1"),
];

/// Columns never exported: derived search keys, and tokens that act for the person (an
/// export may be mailed; its links must not unsubscribe or track anyone).
pub const HIDDEN_COLUMNS: &[&str] = &[
    "search_text",
    "name_key",
    "company_key",
    "email_key",
    "unsubscribe_token",
    "track_token",
    "lease_until",
];

/// One table's rows about the person, as JSON objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub table: String,
    pub rows: Vec<Map<String, Value>>,
}

/// Everything stored about some leads (one person's: a lead and those merged into it),
/// table by table (tables with no rows left out), plus the
/// rejected submissions and failed import rows that mention one of `emails` (the person's
/// addresses, lower-cased), and referrals naming the person as the referrer.
pub async fn export(
    mut conn: Conn<'_>,
    leads: &[Uuid],
    emails: &[String],
) -> StoreResult<Vec<Section>> {
    let mut out = Vec::new();
    for (table, condition) in LEAD_TABLES {
        let sql = format!("SELECT * FROM {table} WHERE {condition}");
        let mut rows = Vec::new();
        for lead in leads {
            for r in rows_as_json(conn.reborrow(), &sql, Some(Bind::Id(*lead))).await? {
                if !rows.contains(&r) {
                    rows.push(r);
                }
            }
        }
        push(&mut out, table, rows);
    }
    let backend = conn.backend();
    for (table, column) in MENTIONS {
        let sql = format!("SELECT * FROM {table} WHERE {}", contains(backend, column));
        let mut rows = Vec::new();
        for email in emails {
            for r in rows_as_json(conn.reborrow(), &sql, Some(Bind::Text(email.clone()))).await? {
                if !rows.contains(&r) {
                    rows.push(r);
                }
            }
        }
        push(&mut out, &format!("{table} (mentioning the address)"), rows);
    }
    Ok(out)
}

/// Tables that hold what a person sent without a lead to file it under, by the column
/// that holds it.
const MENTIONS: &[(&str, &str)] = &[
    ("rejected_submissions", "payload"),
    ("import_errors", "raw"),
    ("referrals", "referrer_email"),
];

fn push(out: &mut Vec<Section>, table: &str, mut rows: Vec<Map<String, Value>>) {
    if rows.is_empty() {
        return;
    }
    for r in &mut rows {
        for c in HIDDEN_COLUMNS {
            r.remove(*c);
        }
    }
    out.push(Section {
        table: table.into(),
        rows,
    });
}

/// Case-insensitive "column holds the (lower-cased) text in `$1`", without LIKE's
/// wildcards (an address may hold `_`).
fn contains(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("instr(lower({column}), $1) > 0"),
        Backend::Postgres => format!("strpos(lower(CAST({column} AS TEXT)), $1) > 0"),
    }
}

/// Binds the one parameter a statement here takes, if any.
macro_rules! bind_one {
    ($q:expr, $bind:expr) => {
        match $bind {
            Some(Bind::Id(id)) => $q.bind(id),
            Some(Bind::Text(t)) => $q.bind(t),
            Some(Bind::Micros(m)) => $q.bind(m),
            None => $q,
        }
    };
}

enum Bind {
    Id(Uuid),
    Text(String),
    Micros(Micros),
}

/// Runs a `SELECT *` and turns each row into a JSON object whatever its columns:
/// ids as UUID strings, `*_at` microseconds as RFC 3339 times, JSON text as JSON.
async fn rows_as_json(
    conn: Conn<'_>,
    sql: &str,
    bind: Option<Bind>,
) -> StoreResult<Vec<Map<String, Value>>> {
    match conn {
        Conn::Sqlite(c) => {
            let q = bind_one!(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
            let rows = q.fetch_all(c).await?;
            Ok(rows.iter().map(sqlite_row).collect())
        }
        Conn::Postgres(c) => {
            let q = bind_one!(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
            let rows = q.fetch_all(c).await?;
            Ok(rows.iter().map(pg_row).collect())
        }
    }
}

fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let name = col.name();
        let v = match row.try_get_raw(i) {
            Ok(raw) if raw.is_null() => Value::Null,
            Ok(raw) => match raw.type_info().name() {
                "INTEGER" => row
                    .try_get_unchecked::<i64, _>(i)
                    .map(|n| integer(name, n))
                    .unwrap_or(Value::Null),
                "REAL" => row
                    .try_get_unchecked::<f64, _>(i)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
                "BLOB" => row
                    .try_get_unchecked::<Vec<u8>, _>(i)
                    .map(|b| blob(&b))
                    .unwrap_or(Value::Null),
                _ => row
                    .try_get_unchecked::<String, _>(i)
                    .map(text)
                    .unwrap_or(Value::Null),
            },
            Err(_) => Value::Null,
        };
        out.insert(name.to_owned(), v);
    }
    out
}

fn pg_row(row: &sqlx::postgres::PgRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let name = col.name();
        let null = row.try_get_raw(i).map(|r| r.is_null()).unwrap_or(true);
        let v = if null {
            Value::Null
        } else {
            match col.type_info().name() {
                "UUID" => row
                    .try_get::<Uuid, _>(i)
                    .map(|u| Value::from(u.to_string())),
                "INT8" => row.try_get::<i64, _>(i).map(|n| integer(name, n)),
                "INT4" => row.try_get::<i32, _>(i).map(|n| integer(name, n.into())),
                "INT2" => row.try_get::<i16, _>(i).map(|n| integer(name, n.into())),
                "FLOAT8" => row.try_get::<f64, _>(i).map(Value::from),
                "FLOAT4" => row.try_get::<f32, _>(i).map(|f| Value::from(f64::from(f))),
                "BOOL" => row.try_get::<bool, _>(i).map(Value::from),
                "JSONB" | "JSON" => row.try_get::<Value, _>(i),
                "BYTEA" => row.try_get::<Vec<u8>, _>(i).map(|b| blob(&b)),
                _ => row.try_get::<String, _>(i).map(text),
            }
            .unwrap_or(Value::Null)
        };
        out.insert(name.to_owned(), v);
    }
    out
}

/// Microsecond timestamps (`*_at`) become RFC 3339 times; other integers stay numbers.
fn integer(column: &str, n: i64) -> Value {
    if (column.ends_with("_at") || column.ends_with("_until"))
        && let Some(t) = chrono::DateTime::from_timestamp_micros(n)
    {
        return Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
    Value::from(n)
}

fn blob(b: &[u8]) -> Value {
    match Uuid::from_slice(b) {
        Ok(u) => Value::from(u.to_string()),
        Err(_) => Value::from(String::from_utf8_lossy(b).into_owned()),
    }
}

/// JSON kept as text (SQLite) comes out as JSON; other text as it is.
fn text(s: String) -> Value {
    let t = s.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(v) = serde_json::from_str::<Value>(&s)
    {
        return v;
    }
    Value::from(s)
}

/// What erasing removed or anonymised, table by table (for the audit entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased(pub Vec<(String, u64)>);

/// Removes the person behind `lead` from every table but the lead row itself (the caller
/// writes the anonymised lead): free text and addresses in what stays (activities,
/// messages, consents, tasks, alerts, webhook payloads, audit changes, merge snapshots),
/// and rows that only identify (visitors and their visits, match keys, enrichment, cached
/// API answers). See [`erase_mentions`] for what is filed by address instead.
pub async fn erase(mut conn: Conn<'_>, lead: Uuid) -> StoreResult<Erased> {
    let backend = conn.backend();
    if backend == Backend::Sqlite {
        // Freed and overwritten cells are zeroed rather than left in the file's pages.
        exec(conn.reborrow(), "PRAGMA secure_delete = ON", None).await?;
    }
    let json = |empty: &str| match backend {
        Backend::Sqlite => format!("'{empty}'"),
        Backend::Postgres => format!("CAST('{empty}' AS jsonb)"),
    };
    let by_lead: Vec<(&str, String)> =
        vec![
        (
            "activities",
            format!("UPDATE activities SET properties = {} WHERE lead_id = $1", json("{}")),
        ),
        (
            "stage_history",
            "UPDATE stage_history SET note = NULL WHERE lead_id = $1 AND note IS NOT NULL".into(),
        ),
        (
            "consents",
            "UPDATE consents SET consent_text = NULL, ip = NULL, proof = NULL WHERE lead_id = $1"
                .into(),
        ),
        (
            "tasks",
            "UPDATE tasks SET title = kind WHERE lead_id = $1".into(),
        ),
        (
            "alerts",
            "UPDATE alerts SET message = kind WHERE lead_id = $1".into(),
        ),
        (
            "outbound_messages",
            "UPDATE outbound_messages SET to_address = '', subject = '', body_text = '', \
             body_html = NULL WHERE lead_id = $1"
                .into(),
        ),
        (
            "webhook_attempts",
            "UPDATE webhook_attempts SET response_body = NULL WHERE delivery_id IN \
             (SELECT d.id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
              WHERE e.lead_id = $1)"
                .into(),
        ),
        (
            "events",
            format!(
                "UPDATE events SET body = '{}' WHERE lead_id = $1",
                r#"{"erased":true}"#
            ),
        ),
        (
            "tracked_links",
            "UPDATE tracked_links SET lead_id = NULL WHERE lead_id = $1".into(),
        ),
        (
            "visitor_events",
            "DELETE FROM visitor_events WHERE visitor_id IN \
             (SELECT id FROM visitors WHERE lead_id = $1)"
                .into(),
        ),
        ("visitors", "DELETE FROM visitors WHERE lead_id = $1".into()),
        ("lead_keys", "DELETE FROM lead_keys WHERE lead_id = $1".into()),
        (
            "lead_fingerprints",
            "DELETE FROM lead_fingerprints WHERE lead_id = $1".into(),
        ),
        (
            "lead_enrichment",
            "DELETE FROM lead_enrichment WHERE lead_id = $1".into(),
        ),
        (
            "lead_quality",
            "UPDATE lead_quality SET findings = '[]' WHERE lead_id = $1".into(),
        ),
        (
            "duplicate_pairs",
            "DELETE FROM duplicate_pairs WHERE lead_a = $1 OR lead_b = $1".into(),
        ),
        (
            "referrals",
            "UPDATE referrals SET referrer_name = NULL, referrer_email = NULL, note = NULL \
             WHERE lead_id = $1"
                .into(),
        ),
        (
            "contacts",
            "UPDATE contacts SET first_name = NULL, last_name = NULL, email = NULL, \
             phone = NULL, title = NULL WHERE lead_id = $1"
                .into(),
        ),
        (
            "lead_merges",
            "UPDATE lead_merges SET merged = '[]', survivor_before = '{}', \
             survivor_after = '{}', picks = '{}' WHERE survivor_id = $1 OR id IN \
             (SELECT merge_id FROM merged_leads WHERE lead_id = $1)"
                .into(),
        ),
        (
            "audit_log",
            format!(
                "UPDATE audit_log SET changes = {} WHERE entity_id = $1 OR entity_id IN \
                 (SELECT id FROM contacts WHERE lead_id = $1)",
                json("[]")
            ),
        ),
    ];
    let mut counts = Vec::new();
    for (table, sql) in &by_lead {
        let n = exec(conn.reborrow(), sql, Some(Bind::Id(lead))).await?;
        counts.push(((*table).to_owned(), n));
    }
    // Cached API answers that hold the lead.
    let idem = format!(
        "DELETE FROM idempotency_keys WHERE {}",
        contains(backend, "response")
    );
    let n = exec(conn.reborrow(), &idem, Some(Bind::Text(lead.to_string()))).await?;
    counts.push(("idempotency_keys".into(), n));
    let n = exec(
        conn.reborrow(),
        "UPDATE suppressions SET lead_id = NULL WHERE lead_id = $1",
        Some(Bind::Id(lead)),
    )
    .await?;
    counts.push(("suppressions (lead)".into(), n));
    if backend == Backend::Sqlite {
        exec(conn.reborrow(), "PRAGMA secure_delete = OFF", None).await?;
    }
    counts.retain(|(_, n)| *n > 0);
    Ok(Erased(counts))
}

async fn exec(conn: Conn<'_>, sql: &str, bind: Option<Bind>) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| bind_one!(
        sqlx::query(sqlx::AssertSqlSafe(sql)),
        bind
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Removes an address (lower-cased) of an erased person from what is filed by address:
/// rejected submissions, failed import rows, referrals naming it as the referrer.
pub async fn erase_mentions(mut conn: Conn<'_>, email: &str) -> StoreResult<Erased> {
    let backend = conn.backend();
    let json = |v: &str| match backend {
        Backend::Sqlite => format!("'{v}'"),
        Backend::Postgres => format!("CAST('{v}' AS jsonb)"),
    };
    let mut counts = Vec::new();
    let mentions = [
        (
            "rejected_submissions",
            format!(
                "UPDATE rejected_submissions SET payload = {}, remote_addr = NULL WHERE {}",
                json(r#"{"erased":true}"#),
                contains(backend, "payload")
            ),
        ),
        (
            "import_errors",
            format!(
                "UPDATE import_errors SET raw = '' WHERE {}",
                contains(backend, "raw")
            ),
        ),
        (
            "referrals (as referrer)",
            format!(
                "UPDATE referrals SET referrer_name = NULL, referrer_email = NULL WHERE {}",
                contains(backend, "referrer_email")
            ),
        ),
    ];
    for (table, sql) in &mentions {
        let n = exec(conn.reborrow(), sql, Some(Bind::Text(email.to_owned()))).await?;
        counts.push(((*table).to_owned(), n));
    }
    counts.retain(|(_, n)| *n > 0);
    Ok(Erased(counts))
}

/// Replaces an address's suppression key by its one-way hash (added whether or not the
/// address was suppressed before): the erased person is never mailed again, yet the
/// address cannot be read back.
pub async fn hash_suppression(
    mut conn: Conn<'_>,
    key: &str,
    hash: &str,
    at: Micros,
) -> StoreResult<u64> {
    let n = exec(
        conn.reborrow(),
        "DELETE FROM suppressions WHERE email_key = $1",
        Some(Bind::Text(key.to_owned())),
    )
    .await?;
    crate::nurture::suppress(conn, hash, "erased", None, at).await?;
    Ok(n)
}

/// The addresses a lead's merge snapshots and audited edits remember (the `email` of every
/// snapshot, the old and new value of every change to `email`): where the person's earlier
/// addresses survive. Other strings there (an owner's address in an assignment) are not
/// the person's and are left out.
pub async fn remembered_emails(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<String>> {
    let sql = "SELECT merged, survivor_before, survivor_after FROM lead_merges WHERE survivor_id = $1 \
               UNION ALL SELECT changes, NULL, NULL FROM audit_log WHERE entity_id = $1";
    let rows = rows_as_json(conn, sql, Some(Bind::Id(lead))).await?;
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => {
                if let Some(Value::String(e)) = o.get("email") {
                    out.push(e.clone());
                }
                if o.get("field") == Some(&Value::String("email".into())) {
                    for k in ["old", "new"] {
                        if let Some(Value::String(e)) = o.get(k) {
                            out.push(e.clone());
                        }
                    }
                }
                o.values().for_each(|v| walk(v, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for r in rows {
        for v in r.values() {
            walk(v, &mut out);
        }
    }
    Ok(out)
}

/// When the lead was erased, if it was (deleted leads included).
pub async fn erased_at(conn: Conn<'_>, lead: Uuid) -> StoreResult<Option<Micros>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT erased_at FROM leads WHERE id = $1"
    )
    .bind(lead)
    .fetch_optional(c)
    .await)?
    .flatten())
}

/// Leads the merge of `lead` absorbed (deleted rows that still hold the person's data).
pub async fn absorbed_by(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<Uuid>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT m.lead_id FROM merged_leads m JOIN lead_merges g ON g.id = m.merge_id \
         WHERE g.survivor_id = $1"
    )
    .bind(lead)
    .fetch_all(c)
    .await)?)
}

/// Up to `limit` leads due for erasure by retention: never converted nor won, not yet
/// erased, last active (or created) before `unconverted_before`; or deleted before
/// `deleted_before`.
pub async fn due_for_erasure(
    conn: Conn<'_>,
    unconverted_before: Option<Micros>,
    deleted_before: Option<Micros>,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    // Several servers may run the job at once: each takes leads the others have not locked.
    let lock = match conn.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT id FROM leads WHERE erased_at IS NULL AND ( \
           ($1 IS NOT NULL AND deleted_at IS NULL AND converted_at IS NULL AND won_at IS NULL \
            AND COALESCE(last_activity_at, created_at) < $1) \
           OR ($2 IS NOT NULL AND deleted_at IS NOT NULL AND deleted_at < $2)) \
         ORDER BY id LIMIT $3{lock}"
    );
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(unconverted_before)
    .bind(deleted_before)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Deletes visits of visitors never identified as a lead, last seen before `before`.
pub async fn delete_anonymous_visits(mut conn: Conn<'_>, before: Micros) -> StoreResult<u64> {
    exec(
        conn.reborrow(),
        "DELETE FROM visitor_events WHERE visitor_id IN \
         (SELECT id FROM visitors WHERE lead_id IS NULL AND last_seen_at < $1)",
        Some(Bind::Micros(before)),
    )
    .await?;
    exec(
        conn,
        "DELETE FROM visitors WHERE lead_id IS NULL AND last_seen_at < $1",
        Some(Bind::Micros(before)),
    )
    .await
}

/// Deletes rejected submissions received, and failed rows of imports started, before
/// `before`.
pub async fn delete_rejected(mut conn: Conn<'_>, before: Micros) -> StoreResult<u64> {
    let a = exec(
        conn.reborrow(),
        "DELETE FROM rejected_submissions WHERE received_at < $1",
        Some(Bind::Micros(before)),
    )
    .await?;
    let b = exec(
        conn,
        "DELETE FROM import_errors WHERE import_id IN \
         (SELECT id FROM imports WHERE created_at < $1 AND status <> 'running')",
        Some(Bind::Micros(before)),
    )
    .await?;
    Ok(a + b)
}

/// Every text stored anywhere in the database, table by table: what a test searches to
/// prove a person is gone. Reads whole tables; for tests and small databases.
pub async fn all_text(mut conn: Conn<'_>) -> StoreResult<Vec<(String, String)>> {
    let tables: Vec<String> = match conn.backend() {
        Backend::Sqlite => dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'leads_search%' AND name <> '_sqlx_migrations'"
        )
        .fetch_all(c)
        .await)?,
        Backend::Postgres => dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations'"
        )
        .fetch_all(c)
        .await)?,
    };
    let mut out = Vec::new();
    for t in tables {
        let sql = format!("SELECT * FROM {t}");
        for row in rows_as_json(conn.reborrow(), &sql, None).await? {
            out.push((t.clone(), Value::Object(row).to_string()));
        }
    }
    Ok(out)
}

/// Tables with a `lead_id` column, from the live schema (to hold [`LEAD_TABLES`] to it).
pub async fn tables_with_lead_column(conn: Conn<'_>) -> StoreResult<Vec<String>> {
    Ok(match conn {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'lead_id' ORDER BY m.name",
            )
            .fetch_all(c)
            .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'lead_id' \
             ORDER BY table_name",
            )
            .fetch_all(c)
            .await?
        }
    })
}
