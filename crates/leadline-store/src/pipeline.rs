//! Contacts (converted leads) and opportunities with their stage history.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use chrono::NaiveDate;
use leadline_domain::pipeline::{Contact, Opportunity};
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

/// Adds a contact. A second contact for the same lead is a conflict (double conversion).
pub async fn insert_contact(conn: Conn<'_>, c: &Contact) -> StoreResult<()> {
    dispatch!(conn, |q| sqlx::query(
        "INSERT INTO contacts (id, lead_id, account_id, first_name, last_name, email, phone, \
         title, owner_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(c.id)
    .bind(c.lead_id)
    .bind(c.account_id)
    .bind(&c.first_name)
    .bind(&c.last_name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.title)
    .bind(c.owner_id)
    .bind(to_micros(c.created_at))
    .execute(q)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

type ContactRow = (
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Uuid>,
    Micros,
);

fn contact(r: ContactRow) -> Contact {
    Contact {
        id: r.0,
        lead_id: r.1,
        account_id: r.2,
        first_name: r.3,
        last_name: r.4,
        email: r.5,
        phone: r.6,
        title: r.7,
        owner_id: r.8,
        created_at: from_micros(r.9),
    }
}

const CONTACT_COLUMNS: &str =
    "id, lead_id, account_id, first_name, last_name, email, phone, title, owner_id, created_at";

/// One contact.
pub async fn contact_by_id(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
    let r: Option<ContactRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(c)
            .await)?;
    Ok(r.map(contact))
}

/// The contact a lead was converted into.
pub async fn contact_of_lead(conn: Conn<'_>, lead: Uuid) -> StoreResult<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE lead_id = $1");
    let r: Option<ContactRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(lead)
            .fetch_optional(c)
            .await)?;
    Ok(r.map(contact))
}

#[derive(sqlx::FromRow)]
struct OppRow {
    id: Uuid,
    name: String,
    account_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    lead_id: Option<Uuid>,
    owner_id: Option<Uuid>,
    amount: Option<i64>,
    currency: Option<String>,
    close_date: Option<String>,
    stage: String,
    probability: i32,
    reason: Option<String>,
    source: Option<String>,
    campaign: Option<String>,
    created_at: Micros,
    updated_at: Micros,
    closed_at: Option<Micros>,
    version: i64,
}

impl From<OppRow> for Opportunity {
    fn from(r: OppRow) -> Self {
        Opportunity {
            id: r.id,
            name: r.name,
            account_id: r.account_id,
            contact_id: r.contact_id,
            lead_id: r.lead_id,
            owner_id: r.owner_id,
            amount: r.amount,
            currency: r.currency,
            close_date: r
                .close_date
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
            stage: r.stage,
            probability: r.probability.clamp(0, 100) as u8,
            reason: r.reason,
            source: r.source,
            campaign: r.campaign,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
            closed_at: r.closed_at.map(from_micros),
            version: r.version,
        }
    }
}

const OPP_COLUMNS: &str = "id, name, account_id, contact_id, lead_id, owner_id, amount, currency, \
     close_date, stage, probability, reason, source, campaign, created_at, updated_at, \
     closed_at, version";

/// Adds an opportunity.
pub async fn insert_opportunity(mut conn: Conn<'_>, o: &Opportunity) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO opportunities ({OPP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    dispatch!(conn.reborrow(), |c| sqlx::query(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(o.id)
    .bind(&o.name)
    .bind(o.account_id)
    .bind(o.contact_id)
    .bind(o.lead_id)
    .bind(o.owner_id)
    .bind(o.amount)
    .bind(&o.currency)
    .bind(o.close_date.map(|d| d.format("%Y-%m-%d").to_string()))
    .bind(&o.stage)
    .bind(i32::from(o.probability))
    .bind(&o.reason)
    .bind(&o.source)
    .bind(&o.campaign)
    .bind(to_micros(o.created_at))
    .bind(to_micros(o.updated_at))
    .bind(o.closed_at.map(to_micros))
    .bind(o.version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    won_milestone(conn, o).await
}

/// A won deal marks its lead won (and so converted) at the close.
async fn won_milestone(conn: Conn<'_>, o: &Opportunity) -> StoreResult<()> {
    if let (Some(lead), "won", Some(at)) = (o.lead_id, o.stage.as_str(), o.closed_at) {
        crate::milestones::reach(conn, lead, crate::milestones::WON, to_micros(at)).await?;
    }
    Ok(())
}

/// One opportunity.
pub async fn opportunity(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Opportunity>> {
    let sql = format!("SELECT {OPP_COLUMNS} FROM opportunities WHERE id = $1");
    let r: Option<OppRow> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(r.map(Opportunity::from))
}

/// Opportunities, optionally of one owner and/or lead, newest first (at most `limit`).
pub async fn opportunities(
    conn: Conn<'_>,
    owner: Option<Uuid>,
    lead: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Opportunity>> {
    let mut sql = crate::sql::Sql::new(&format!(
        "SELECT {OPP_COLUMNS} FROM opportunities WHERE 1 = 1"
    ));
    if let Some(o) = owner {
        sql.push(" AND owner_id = ");
        sql.bind(crate::sql::Bind::Uuid(o));
    }
    if let Some(l) = lead {
        sql.push(" AND lead_id = ");
        sql.bind(crate::sql::Bind::Uuid(l));
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ");
    sql.bind(crate::sql::Bind::Int(limit));
    let rows: Vec<OppRow> = dispatch!(conn, |c| bind_all!(
        sqlx::query_as(sqlx::AssertSqlSafe(sql.text.as_str())),
        sql.binds.clone()
    )
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(Opportunity::from).collect())
}

/// Writes an opportunity's changes if it is still at `expected_version`; false otherwise.
pub async fn update_opportunity(
    mut conn: Conn<'_>,
    o: &Opportunity,
    expected_version: i64,
) -> StoreResult<bool> {
    let n = dispatch!(conn.reborrow(), |c| sqlx::query(
        "UPDATE opportunities SET name = $2, account_id = $3, owner_id = $4, amount = $5, \
         currency = $6, close_date = $7, stage = $8, probability = $9, reason = $10, \
         updated_at = $11, closed_at = $12, version = $13 WHERE id = $1 AND version = $14"
    )
    .bind(o.id)
    .bind(&o.name)
    .bind(o.account_id)
    .bind(o.owner_id)
    .bind(o.amount)
    .bind(&o.currency)
    .bind(o.close_date.map(|d| d.format("%Y-%m-%d").to_string()))
    .bind(&o.stage)
    .bind(i32::from(o.probability))
    .bind(&o.reason)
    .bind(to_micros(o.updated_at))
    .bind(o.closed_at.map(to_micros))
    .bind(o.version)
    .bind(expected_version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 1 {
        won_milestone(conn, o).await?;
    }
    Ok(n == 1)
}

/// A stage change of an opportunity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OppChangeRow {
    pub id: Uuid,
    pub opportunity_id: Uuid,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub reason: Option<String>,
    pub actor: String,
    pub at: Micros,
}

/// Records a stage change.
pub async fn record_change(conn: Conn<'_>, h: &OppChangeRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO opportunity_history (id, opportunity_id, from_stage, to_stage, reason, \
         actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(h.id)
    .bind(h.opportunity_id)
    .bind(&h.from_stage)
    .bind(&h.to_stage)
    .bind(&h.reason)
    .bind(&h.actor)
    .bind(h.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// An opportunity's stage changes, oldest first.
pub async fn changes(conn: Conn<'_>, opp: Uuid) -> StoreResult<Vec<OppChangeRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, opportunity_id, from_stage, to_stage, reason, actor, at \
         FROM opportunity_history WHERE opportunity_id = $1 ORDER BY at, id"
    )
    .bind(opp)
    .fetch_all(c)
    .await)?)
}

/// Per stage and currency: how many opportunities and their total amount (the board).
pub async fn totals(
    conn: Conn<'_>,
) -> StoreResult<Vec<(String, Option<String>, i64, Option<i64>)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT stage, currency, COUNT(*), CAST(SUM(amount) AS BIGINT) FROM opportunities \
         GROUP BY stage, currency"
    )
    .fetch_all(c)
    .await)?)
}

/// Maps a unique-constraint conflict to the double-conversion error.
pub fn double_conversion(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict("the lead was already converted".into()),
        other => other,
    }
}
