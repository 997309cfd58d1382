//! The leads table: insert, read, update with optimistic locking, soft delete, filtered
//! keyset-paginated lists and a bulk path for large loads.

use crate::db::{Backend, Conn};
use crate::dialect;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Bind, Sql};
use leadline_domain::filter::{
    CursorValue, LeadQuery, Missing, OwnerFilter, SortDirection, SortField,
};
use leadline_domain::source::Channel;
use leadline_domain::time::{Micros, from_micros, to_micros};
use leadline_domain::{Cursor, DisqualifyReason, Grade, Lead, LeadFields, Stage, Touch};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

macro_rules! lead_columns {
    ($score:literal) => {
        concat!(
            "id, first_name, last_name, email, phone, mobile, title, company, website, industry, \
             employees, annual_revenue, currency, street, city, state, postal_code, country, \
             time_zone, description, budget, authority, need, timeline, email_opt_out, \
             first_source, first_medium, first_campaign, first_referrer, first_landing_page, \
             last_source, last_medium, last_campaign, last_referrer, last_landing_page, \
             owner_id, team_id, stage, disqualify_reason, ",
            $score,
            ", custom, external_id, created_at, updated_at, leads.version AS version"
        )
    };
}

const COLUMNS: &str = lead_columns!(
    "COALESCE((SELECT s.score FROM lead_scores s WHERE s.lead_id = leads.id \
               AND s.model_key = (SELECT key FROM scoring_models WHERE is_default)), 0) AS score, \
     (SELECT s.grade FROM lead_scores s WHERE s.lead_id = leads.id \
      AND s.model_key = (SELECT key FROM scoring_models WHERE is_default)) AS grade"
);

/// The columns without the score lookups, for pages of a batch walk: their scores are
/// read for the whole id range at once.
const COLUMNS_UNSCORED: &str = lead_columns!("0 AS score, CAST(NULL AS TEXT) AS grade");

// A lead's score and grade are its default model's, read from `lead_scores` (scores live
// there only: a full re-score writes narrow rows instead of rewriting every lead); a lead
// not scored yet reads as score 0, no grade. They are looked up per row (two index
// probes) rather than joined: a join lets the planner merge-scan every score from the
// start for each page of a batch walk.
const FROM: &str = "leads";

/// Scored leads only, with their default-model score as `ds`: lists sorted or filtered by
/// score or grade (a score-sorted list walks `lead_scores_rank`).
const FROM_SCORED: &str = "leads JOIN lead_scores ds ON ds.lead_id = leads.id \
    AND ds.model_key = (SELECT key FROM scoring_models WHERE is_default)";

/// Columns written on insert, in bind order (`id` first, then the derived ones).
const INSERT_COLUMNS: &str = "id, first_name, last_name, email, phone, mobile, title, company, website, industry, \
    employees, annual_revenue, currency, street, city, state, postal_code, country, time_zone, description, \
    budget, authority, need, timeline, email_opt_out, \
    first_source, first_medium, first_campaign, first_referrer, first_landing_page, \
    last_source, last_medium, last_campaign, last_referrer, last_landing_page, \
    owner_id, team_id, stage, disqualify_reason, custom, external_id, \
    search_text, name_key, company_key, email_key, created_at, updated_at, version";

// Columns a query leaves out read as empty (`#[sqlx(default)]`): batch work selects only
// the fields it uses (see `page_by_id_with`). Every other query selects `COLUMNS`.
#[derive(sqlx::FromRow, Default)]
#[sqlx(default)]
struct LeadRow {
    id: Uuid,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    title: Option<String>,
    company: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    employees: Option<i32>,
    annual_revenue: Option<i64>,
    currency: Option<String>,
    street: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    time_zone: Option<String>,
    description: Option<String>,
    budget: Option<i64>,
    authority: Option<String>,
    need: Option<String>,
    timeline: Option<String>,
    email_opt_out: bool,
    first_source: Option<String>,
    first_medium: Option<String>,
    first_campaign: Option<String>,
    first_referrer: Option<String>,
    first_landing_page: Option<String>,
    last_source: Option<String>,
    last_medium: Option<String>,
    last_campaign: Option<String>,
    last_referrer: Option<String>,
    last_landing_page: Option<String>,
    owner_id: Option<Uuid>,
    team_id: Option<Uuid>,
    stage: String,
    disqualify_reason: Option<String>,
    score: i32,
    grade: Option<String>,
    custom: Json<Map<String, Value>>,
    external_id: Option<String>,
    created_at: Micros,
    updated_at: Micros,
    version: i64,
}

fn parse_enum<T: serde::de::DeserializeOwned>(
    v: Option<String>,
    what: &str,
) -> StoreResult<Option<T>> {
    v.map(|s| {
        serde_json::from_value(Value::String(s))
            .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
    })
    .transpose()
}

fn enum_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|x| x.as_str().map(str::to_owned))
}

impl LeadRow {
    fn into_lead(self) -> StoreResult<Lead> {
        Ok(Lead {
            id: self.id,
            fields: LeadFields {
                first_name: self.first_name,
                last_name: self.last_name,
                email: self.email,
                phone: self.phone,
                mobile: self.mobile,
                title: self.title,
                company: self.company,
                website: self.website,
                industry: self.industry,
                employees: self.employees,
                annual_revenue: self.annual_revenue,
                currency: self.currency,
                street: self.street,
                city: self.city,
                state: self.state,
                postal_code: self.postal_code,
                country: self.country,
                time_zone: self.time_zone,
                description: self.description,
                budget: self.budget,
                authority: parse_enum(self.authority, "authority")?,
                need: self.need,
                timeline: parse_enum(self.timeline, "timeline")?,
                email_opt_out: self.email_opt_out,
                first_touch: Touch {
                    source: self.first_source,
                    medium: self.first_medium,
                    campaign: self.first_campaign,
                    referrer: self.first_referrer,
                    landing_page: self.first_landing_page,
                },
                last_touch: Touch {
                    source: self.last_source,
                    medium: self.last_medium,
                    campaign: self.last_campaign,
                    referrer: self.last_referrer,
                    landing_page: self.last_landing_page,
                },
                owner_id: self.owner_id,
                team_id: self.team_id,
                external_id: self.external_id,
                custom: self.custom.0,
            },
            stage: self
                .stage
                .parse::<Stage>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            disqualify_reason: self
                .disqualify_reason
                .map(|r| r.parse::<DisqualifyReason>())
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            score: self.score,
            grade: self
                .grade
                .map(|g| g.parse::<Grade>())
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
            version: self.version,
        })
    }
}

/// Lower-cased text the list searches in: names, email, company.
fn search_text(f: &LeadFields) -> String {
    [&f.first_name, &f.last_name, &f.email, &f.company]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn name_key(f: &LeadFields) -> String {
    let mut k = f.last_name.as_deref().unwrap_or("").to_lowercase();
    if let Some(first) = &f.first_name {
        k.push(' ');
        k.push_str(&first.to_lowercase());
    }
    k.trim().to_owned()
}

fn company_key(f: &LeadFields) -> String {
    f.company.as_deref().unwrap_or("").to_lowercase()
}

/// The lookup key for an email: trimmed and lower-cased.
pub fn email_key(email: Option<&str>) -> Option<String> {
    email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
}

/// Binds a lead's columns in [`INSERT_COLUMNS`] order.
macro_rules! bind_lead {
    ($q:expr, $lead:expr) => {{
        let l: &Lead = $lead;
        let f = &l.fields;
        $q.bind(l.id)
            .bind(f.first_name.clone())
            .bind(f.last_name.clone())
            .bind(f.email.clone())
            .bind(f.phone.clone())
            .bind(f.mobile.clone())
            .bind(f.title.clone())
            .bind(f.company.clone())
            .bind(f.website.clone())
            .bind(f.industry.clone())
            .bind(f.employees)
            .bind(f.annual_revenue)
            .bind(f.currency.clone())
            .bind(f.street.clone())
            .bind(f.city.clone())
            .bind(f.state.clone())
            .bind(f.postal_code.clone())
            .bind(f.country.clone())
            .bind(f.time_zone.clone())
            .bind(f.description.clone())
            .bind(f.budget)
            .bind(enum_text(&f.authority))
            .bind(f.need.clone())
            .bind(enum_text(&f.timeline))
            .bind(f.email_opt_out)
            .bind(f.first_touch.source.clone())
            .bind(f.first_touch.medium.clone())
            .bind(f.first_touch.campaign.clone())
            .bind(f.first_touch.referrer.clone())
            .bind(f.first_touch.landing_page.clone())
            .bind(f.last_touch.source.clone())
            .bind(f.last_touch.medium.clone())
            .bind(f.last_touch.campaign.clone())
            .bind(f.last_touch.referrer.clone())
            .bind(f.last_touch.landing_page.clone())
            .bind(f.owner_id)
            .bind(f.team_id)
            .bind(l.stage.as_str())
            .bind(l.disqualify_reason.map(|r| r.as_str()))
            .bind(Json(f.custom.clone()))
            .bind(f.external_id.clone())
            .bind(search_text(f))
            .bind(name_key(f))
            .bind(company_key(f))
            .bind(email_key(f.email.as_deref()))
            .bind(to_micros(l.created_at))
            .bind(to_micros(l.updated_at))
            .bind(l.version)
    }};
}

const INSERT_ARITY: usize = 48;

/// Inserts one lead.
pub async fn insert(conn: Conn<'_>, lead: &Lead) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO leads ({INSERT_COLUMNS}) VALUES ({})",
        crate::sql::placeholders(INSERT_ARITY, 0)
    );
    dispatch!(conn, |c| bind_lead!(
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
        lead
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Inserts many leads with multi-row statements (the bulk-load path for demo data, imports
/// and benchmarks). Runs inside the caller's transaction.
pub async fn insert_many(mut conn: Conn<'_>, leads: &[Lead]) -> StoreResult<()> {
    for chunk in leads.chunks(crate::sql::bulk_rows(conn.backend(), INSERT_ARITY)) {
        let sql = format!(
            "INSERT INTO leads ({INSERT_COLUMNS}) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), INSERT_ARITY)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for lead in chunk {
                q = bind_lead!(q, lead);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Reads a lead that is not deleted.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Lead>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE id = $1 AND deleted_at IS NULL");
    let row: Option<LeadRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(c)
            .await)?;
    row.map(LeadRow::into_lead).transpose()
}

/// `UPDATE leads SET` every column but the id and creation time, then `tail` (whose
/// parameters follow the lead's).
fn update_sql(tail: &str) -> String {
    let sets: Vec<String> = INSERT_COLUMNS
        .split(',')
        .map(str::trim)
        .enumerate()
        .skip(1)
        .filter(|(_, c)| *c != "created_at")
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!("UPDATE leads SET {} {tail}", sets.join(", "))
}

/// Writes a new version of a lead if the stored version is still `expected_version`.
/// Returns false when somebody else changed (or deleted) it first.
pub async fn update(conn: Conn<'_>, lead: &Lead, expected_version: i64) -> StoreResult<bool> {
    let sql = update_sql(&format!(
        "WHERE id = $1 AND version = ${} AND deleted_at IS NULL",
        INSERT_ARITY + 1
    ));
    // created_at keeps its place in the bind list but is not in SET.
    let res = dispatch!(conn, |c| bind_lead!(
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
        lead
    )
    .bind(expected_version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(res == 1)
}

/// Writes the anonymised version of a lead, deleted or not, and marks it erased at `at`.
pub async fn write_erased(conn: Conn<'_>, lead: &Lead, at: Micros) -> StoreResult<bool> {
    let sql = update_sql(&format!(
        ", erased_at = ${} WHERE id = $1",
        INSERT_ARITY + 1
    ));
    let res = dispatch!(conn, |c| bind_lead!(
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
        lead
    )
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(res == 1)
}

/// Marks a lead deleted and drops its SLA clock (nobody follows up a deleted lead; the
/// board counts clocks without looking at the leads). Returns false when it was not there.
pub async fn soft_delete(mut conn: Conn<'_>, id: Uuid, at: Micros) -> StoreResult<bool> {
    crate::sla::drop_clock(conn.reborrow(), id).await?;
    let res = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE leads SET deleted_at = $1, updated_at = $1, version = version + 1 WHERE id = $2 AND deleted_at IS NULL"
    )
    .bind(at)
    .bind(id)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(res == 1)
}

/// Brings a deleted lead back (an unmerge). Returns false when it was not deleted.
pub async fn restore(conn: Conn<'_>, id: Uuid, at: Micros) -> StoreResult<bool> {
    let res = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE leads SET deleted_at = NULL, updated_at = $1, version = version + 1 WHERE id = $2 AND deleted_at IS NOT NULL"
    )
    .bind(at)
    .bind(id)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(res == 1)
}

/// Reads a lead whether deleted or not (a merged-away lead, for an unmerge).
pub async fn get_including_deleted(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Lead>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE id = $1");
    let row: Option<LeadRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(c)
            .await)?;
    row.map(LeadRow::into_lead).transpose()
}

/// Finds live leads by email (case-insensitive).
pub async fn find_by_email(conn: Conn<'_>, email: &str) -> StoreResult<Vec<Lead>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE email_key = $1 AND deleted_at IS NULL ORDER BY created_at"
    );
    let key = email_key(Some(email)).unwrap_or_default();
    let rows: Vec<LeadRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key)
            .fetch_all(c)
            .await)?;
    rows.into_iter().map(LeadRow::into_lead).collect()
}

/// Who may see which leads in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// A rep: their own leads and unassigned ones.
    OwnOrUnassigned(Option<Uuid>),
}

/// One page of leads and the cursor of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page {
    pub leads: Vec<Lead>,
    pub next_cursor: Option<String>,
}

fn sort_column(f: SortField) -> &'static str {
    match f {
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
        SortField::Score => "ds.score",
        SortField::Name => "name_key",
        SortField::Company => "company_key",
    }
}

fn cursor_value(lead: &Lead, f: SortField) -> CursorValue {
    match f {
        SortField::CreatedAt => CursorValue::Int(to_micros(lead.created_at)),
        SortField::UpdatedAt => CursorValue::Int(to_micros(lead.updated_at)),
        SortField::Score => CursorValue::Int(i64::from(lead.score)),
        SortField::Name => CursorValue::Text(name_key(&lead.fields)),
        SortField::Company => CursorValue::Text(company_key(&lead.fields)),
    }
}

/// Builds the WHERE clause of [`list`].
fn where_clause(
    sql: &mut Sql,
    backend: Backend,
    query: &LeadQuery,
    visibility: Visibility,
    me: Option<Uuid>,
    plan: dialect::SearchPlan,
) {
    let f = &query.filter;
    sql.push(" WHERE deleted_at IS NULL");
    if let Visibility::OwnOrUnassigned(user) = visibility {
        match user {
            Some(u) => {
                sql.push(" AND (owner_id = ");
                sql.bind(Bind::Uuid(u));
                sql.push(" OR owner_id IS NULL)");
            }
            None => {
                sql.push(" AND owner_id IS NULL");
            }
        }
    }
    if !f.stages.is_empty() {
        // A stage holds a large share of all leads and its newest rows can all belong to one
        // big import; when a narrower equality filter is present, SQLite must walk that
        // filter's index instead (unary `+` keeps a term out of index selection).
        let narrower = f.source.is_some()
            || f.campaign.is_some()
            || f.team_id.is_some()
            || matches!(f.owner, Some(OwnerFilter::User(_) | OwnerFilter::Me));
        if backend == Backend::Sqlite && narrower {
            sql.push(" AND +stage IN (");
        } else {
            sql.push(" AND stage IN (");
        }
        for (i, s) in f.stages.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Bind::Text(s.as_str().to_owned()));
        }
        sql.push(")");
    }
    match f.owner {
        Some(OwnerFilter::Unassigned) => {
            sql.push(" AND owner_id IS NULL");
        }
        Some(OwnerFilter::User(u)) => {
            sql.push(" AND owner_id = ");
            sql.bind(Bind::Uuid(u));
        }
        Some(OwnerFilter::Me) => match me {
            Some(u) => {
                sql.push(" AND owner_id = ");
                sql.bind(Bind::Uuid(u));
            }
            None => {
                sql.push(" AND 1 = 0");
            }
        },
        None => {}
    }
    if let Some(t) = f.team_id {
        sql.push(" AND (team_id = ");
        sql.bind(Bind::Uuid(t));
        sql.push(" OR owner_id IN (SELECT user_id FROM team_members WHERE team_id = ");
        sql.bind(Bind::Uuid(t));
        sql.push("))");
    }
    if let Some(s) = &f.source {
        sql.push(" AND first_source = ");
        sql.bind(Bind::Text(s.clone()));
    }
    if let Some(s) = &f.campaign {
        sql.push(" AND first_campaign = ");
        sql.bind(Bind::Text(s.clone()));
    }
    if let Some(s) = &f.medium {
        sql.push(" AND first_medium = ");
        sql.bind(Bind::Text(s.clone()));
    }
    if let Some(c) = f.channel {
        channel_condition(sql, c);
    }
    // As the reports label leads: empty, or `(none)` as analytics tools write a missing
    // medium (the reports show both as one `(none)` row).
    for m in &f.missing {
        sql.push(match m {
            Missing::Source => " AND COALESCE(first_source, '') IN ('', '(none)')",
            Missing::Medium => " AND COALESCE(first_medium, '') IN ('', '(none)')",
            Missing::Campaign => " AND COALESCE(first_campaign, '') IN ('', '(none)')",
            Missing::Team => " AND team_id IS NULL",
        });
    }
    // The column comes from a fixed list, never from the request.
    match f.reached.as_deref() {
        Some("mql") => sql.push(" AND mql_at IS NOT NULL"),
        Some("sal") => sql.push(" AND sal_at IS NOT NULL"),
        Some("sql") => sql.push(" AND sql_at IS NOT NULL"),
        Some("converted") => sql.push(" AND converted_at IS NOT NULL"),
        Some("won") => sql.push(" AND won_at IS NOT NULL"),
        _ => sql,
    };
    if let Some(n) = f.score_min {
        sql.push(" AND ds.score >= ");
        sql.bind(Bind::Int(n.into()));
    }
    if let Some(n) = f.score_max {
        sql.push(" AND ds.score <= ");
        sql.bind(Bind::Int(n.into()));
    }
    if !f.grades.is_empty() {
        sql.push(" AND ds.grade IN (");
        for (i, g) in f.grades.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Bind::Text(g.as_str().to_owned()));
        }
        sql.push(")");
    }
    for (col, op, t) in [
        ("created_at", ">=", f.created_from),
        ("created_at", "<=", f.created_to),
        ("updated_at", ">=", f.updated_from),
        ("updated_at", "<=", f.updated_to),
    ] {
        if let Some(t) = t {
            sql.push(&format!(" AND {col} {op} "));
            sql.bind(Bind::Int(to_micros(t)));
        }
    }
    if let Some(q) = &f.q {
        sql.push(" AND ");
        dialect::search(sql, backend, q, plan);
    }
    for cond in &f.custom {
        sql.push(" AND ");
        if cond.contains {
            dialect::custom_contains(sql, backend, &cond.key, &cond.value);
        } else {
            dialect::custom_equals(sql, backend, &cond.key, &cond.value);
        }
    }
}

/// Chooses how SQLite answers a search by asking the trigram index how common the needle
/// is (bounded: it stops counting at the limit), as a planner with statistics would.
/// `Channel::of_lead` over the lead's first touch, against the sources configured now.
fn channel_condition(sql: &mut Sql, c: Channel) {
    const SOURCE: &str = "COALESCE(first_source, '')";
    const MEDIUM: &str = "LOWER(TRIM(COALESCE(first_medium, '')))";
    const NEITHER: &str = "(COALESCE(first_source, '') = '' AND COALESCE(first_medium, '') = '')";
    let list = |sql: &mut Sql, media: &mut dyn Iterator<Item = &&str>| {
        for (i, m) in media.enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Bind::Text((*m).to_owned()));
        }
    };
    sql.push(&format!(
        " AND ({SOURCE} IN (SELECT key FROM sources WHERE channel = "
    ));
    sql.bind(Bind::Text(c.as_str().to_owned()));
    sql.push(&format!(
        ") OR ({SOURCE} NOT IN (SELECT key FROM sources) AND (1 = 0"
    ));
    if !c.media().is_empty() {
        sql.push(&format!(" OR {MEDIUM} IN ("));
        list(sql, &mut c.media().iter());
        sql.push(")");
    }
    match c {
        Channel::Direct => sql.push(&format!(" OR {NEITHER}")),
        Channel::Other => {
            sql.push(&format!(" OR ({MEDIUM} NOT IN ("));
            list(sql, &mut Channel::ALL.iter().flat_map(|c| c.media()));
            sql.push(&format!(") AND NOT {NEITHER})"))
        }
        _ => sql,
    };
    sql.push(")))");
}

async fn search_plan(conn: Conn<'_>, query: &LeadQuery) -> StoreResult<dialect::SearchPlan> {
    let Some(needle) = query.filter.q.as_deref().filter(|q| q.chars().count() >= 3) else {
        return Ok(dialect::SearchPlan::Scan);
    };
    let Conn::Sqlite(c) = conn else {
        return Ok(dialect::SearchPlan::Index);
    };
    let phrase = dialect::fts_phrase(needle);
    // When the index is asked for only a piece of a longer needle, the needle itself is
    // more specific than any count of the piece says: walking the list for it could mean
    // walking the whole table, so it always goes through the index.
    if dialect::index_piece(needle).chars().count() < needle.chars().count() {
        return Ok(dialect::SearchPlan::Index);
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT rowid FROM leads_search WHERE leads_search MATCH $1 LIMIT $2)",
    )
    .bind(phrase)
    .bind(dialect::INDEX_MATCH_LIMIT + 1)
    .fetch_one(&mut *c)
    .await?;
    Ok(if n > dialect::INDEX_MATCH_LIMIT {
        dialect::SearchPlan::Scan
    } else {
        dialect::SearchPlan::Index
    })
}

/// Lists one page of leads. `me` resolves `owner=me`.
pub async fn list(
    mut conn: Conn<'_>,
    query: &LeadQuery,
    visibility: Visibility,
    me: Option<Uuid>,
) -> StoreResult<Page> {
    let backend = conn.backend();
    let plan = search_plan(conn.reborrow(), query).await?;
    let by_score = query.sort.field == SortField::Score;
    let f = &query.filter;
    let scored = by_score || f.score_min.is_some() || f.score_max.is_some() || !f.grades.is_empty();
    let from = if scored { FROM_SCORED } else { FROM };
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM {from}"));
    where_clause(&mut sql, backend, query, visibility, me, plan);
    let col = sort_column(query.sort.field);
    let id = if by_score { "ds.lead_id" } else { "leads.id" };
    let (cmp, dir) = match query.sort.direction {
        SortDirection::Asc => (">", "ASC"),
        SortDirection::Desc => ("<", "DESC"),
    };
    if let Some(c) = &query.cursor {
        sql.push(&format!(" AND ({col}, {id}) {cmp} ("));
        sql.bind(match &c.value {
            CursorValue::Int(i) => Bind::Int(*i),
            CursorValue::Text(t) => Bind::Text(t.clone()),
        });
        sql.push(", ");
        sql.bind(Bind::Uuid(c.id));
        sql.push(")");
    }
    sql.push(&format!(" ORDER BY {col} {dir}, {id} {dir} LIMIT "));
    sql.bind(Bind::Int(i64::from(query.limit) + 1));
    let Sql { text, binds } = sql;
    let rows: Vec<LeadRow> = dispatch!(conn, |c| bind_all!(
        sqlx::query_as(sqlx::AssertSqlSafe(text.as_str())),
        binds.clone()
    )
    .fetch_all(c)
    .await)?;
    let mut leads = rows
        .into_iter()
        .map(LeadRow::into_lead)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = if leads.len() > query.limit as usize {
        leads.truncate(query.limit as usize);
        leads.last().map(|l| {
            Cursor {
                sort: query.sort.to_param(),
                value: cursor_value(l, query.sort.field),
                id: l.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page { leads, next_cursor })
}

/// Counts live leads (all of them; used by health pages and the demo loader).
pub async fn count(conn: Conn<'_>) -> StoreResult<i64> {
    let n: i64 = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM leads WHERE deleted_at IS NULL"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Live leads in id order after `after` (a full scan in pages, for batch jobs).
pub async fn page_by_id(
    mut conn: Conn<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Lead>> {
    let mut page = page_of(conn.reborrow(), COLUMNS_UNSCORED, after, None, limit).await?;
    let (Some(first), Some(last)) = (page.first(), page.last()) else {
        return Ok(page);
    };
    let scores: Vec<(Uuid, i32, String)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, score, grade FROM lead_scores \
         WHERE model_key = (SELECT key FROM scoring_models WHERE is_default) \
         AND lead_id >= $1 AND lead_id <= $2"
    )
    .bind(first.id)
    .bind(last.id)
    .fetch_all(c)
    .await)?;
    let scores: std::collections::HashMap<Uuid, (i32, String)> = scores
        .into_iter()
        .map(|(id, score, grade)| (id, (score, grade)))
        .collect();
    for l in &mut page {
        if let Some((score, grade)) = scores.get(&l.id) {
            l.score = *score;
            l.grade = grade.parse().ok();
        }
    }
    Ok(page)
}

/// The id of the live lead at `offset` in id order (where to split a batch walk).
pub async fn id_at(conn: Conn<'_>, offset: i64) -> StoreResult<Option<Uuid>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM leads WHERE deleted_at IS NULL ORDER BY id LIMIT 1 OFFSET $1"
    )
    .bind(offset.max(0))
    .fetch_optional(c)
    .await)?)
}

/// Live leads in id order after `after` and up to `until` (inclusive), reading only the
/// fields in `fields` (names as scoring rules give them: `title`, `first_touch.source`,
/// `custom.KEY`) besides id, stage, owner, team and times; every other field reads as
/// empty. For batch work that needs a few fields of every lead (a full re-score):
/// decoding a wide row costs more than scoring it.
pub async fn page_by_id_with(
    conn: Conn<'_>,
    after: Option<Uuid>,
    until: Option<Uuid>,
    limit: i64,
    fields: &[String],
) -> StoreResult<Vec<Lead>> {
    let wanted = |c: &str| {
        fields.iter().any(|f| {
            let f = f.as_str();
            f == c
                || (c == "custom" && f.starts_with("custom."))
                || f.strip_prefix("first_touch.")
                    .is_some_and(|rest| c.strip_prefix("first_").is_some_and(|x| x == rest))
                || f.strip_prefix("last_touch.")
                    .is_some_and(|rest| c.strip_prefix("last_").is_some_and(|x| x == rest))
        })
    };
    // Columns left out read as empty: a wide row costs per value on SQLite even when NULL.
    let columns: Vec<&str> = COLUMNS_UNSCORED
        .split(", ")
        .map(str::trim)
        .filter(|c| {
            matches!(
                *c,
                "id" | "stage"
                    | "disqualify_reason"
                    | "owner_id"
                    | "team_id"
                    | "email_opt_out"
                    | "created_at"
                    | "updated_at"
                    | "leads.version AS version"
            ) || wanted(c)
        })
        .collect();
    page_of(conn, &columns.join(", "), after, until, limit).await
}

/// Live leads in id order after `after` and up to `until`, read as `columns`.
async fn page_of(
    conn: Conn<'_>,
    columns: &str,
    after: Option<Uuid>,
    until: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Lead>> {
    let sql = format!(
        "SELECT {columns} FROM {FROM} WHERE deleted_at IS NULL AND id > $1 AND id <= $3 \
         ORDER BY id LIMIT $2"
    );
    let rows: Vec<LeadRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(limit)
            .bind(until.unwrap_or(Uuid::max()))
            .fetch_all(c)
            .await)?;
    rows.into_iter().map(LeadRow::into_lead).collect()
}

/// Live leads created at or after `since` that were never verified (an import's, for the
/// verification pass after it), in creation order after `after`.
pub async fn unverified_since(
    conn: Conn<'_>,
    since: Micros,
    after: Option<(Micros, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<Lead>> {
    created_since_where(
        conn,
        since,
        after,
        limit,
        "AND NOT EXISTS (SELECT 1 FROM lead_quality q WHERE q.lead_id = leads.id)",
    )
    .await
}

/// Live leads created at or after `since`, in creation order after `after` (a routing
/// simulation over recent leads).
pub async fn created_since(
    conn: Conn<'_>,
    since: Micros,
    after: Option<(Micros, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<Lead>> {
    created_since_where(conn, since, after, limit, "").await
}

/// Leads created since, in creation order, with a further fixed condition `and`.
async fn created_since_where(
    conn: Conn<'_>,
    since: Micros,
    after: Option<(Micros, Uuid)>,
    limit: i64,
    and: &'static str,
) -> StoreResult<Vec<Lead>> {
    let (t, id) = after.unwrap_or((since, Uuid::nil()));
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE leads.deleted_at IS NULL AND leads.created_at >= $1 \
         AND (leads.created_at > $2 OR (leads.created_at = $2 AND leads.id > $3)) {and} \
         ORDER BY leads.created_at, leads.id LIMIT $4"
    );
    let rows: Vec<LeadRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(since)
            .bind(t)
            .bind(id)
            .bind(limit)
            .fetch_all(c)
            .await)?;
    rows.into_iter().map(LeadRow::into_lead).collect()
}

/// Live leads with these ids (any order).
pub async fn get_many(mut conn: Conn<'_>, ids: &[Uuid]) -> StoreResult<Vec<Lead>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE deleted_at IS NULL AND id IN ({})",
            crate::sql::placeholders(chunk.len(), 0)
        );
        let rows: Vec<LeadRow> = dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(c).await
        })?;
        for r in rows {
            out.push(r.into_lead()?);
        }
    }
    Ok(out)
}

/// Moves leads to another stage when they are still in the stage they were read in (the
/// scoring engine's automatic qualification; the caller records the history). Returns the
/// ids moved. Clears a disqualification reason.
pub async fn set_stages(
    mut conn: Conn<'_>,
    items: &[(Uuid, &str, &str)],
    at: Micros,
) -> StoreResult<Vec<Uuid>> {
    let mut moved = Vec::with_capacity(items.len());
    for (id, from, to) in items {
        let n = dispatch!(conn.reborrow(), |c| {
            sqlx::query(
            "UPDATE leads SET stage = $3, disqualify_reason = NULL, updated_at = $4, version = version + 1 \
             WHERE id = $1 AND stage = $2 AND deleted_at IS NULL"
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if n == 1 {
            moved.push(*id);
        }
    }
    Ok(moved)
}
