//! Data subject rights and retention: export everything about a person (JSON or CSV),
//! erase a person (the lead stays as an anonymous row so reports keep counting it), and
//! the retention job that erases or deletes what is past its time. Every export and
//! erasure is audited, by ids and counts only.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use leadline_domain::Principal;
use leadline_domain::privacy::{RetentionPolicy, erased_fields};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_store::DbTx;
use leadline_store::privacy as store;
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The settings key of the retention policy.
const RETENTION_KEY: &str = "retention";
/// How many leads one pass of the retention job erases per transaction.
const RETENTION_BATCH: i64 = 200;

/// Everything stored about one person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonExport {
    pub lead_id: Uuid,
    pub exported_at: DateTime<Utc>,
    /// One entry per table holding rows about the person, each row as stored (ids,
    /// times in RFC 3339, JSON columns as JSON).
    pub sections: Vec<ExportSection>,
}

/// One table's rows about the person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportSection {
    pub table: String,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
}

/// What erasing a person did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    pub lead_id: Uuid,
    pub erased_at: DateTime<Utc>,
    /// Leads merged into this one earlier, erased with it.
    pub absorbed_leads: Vec<Uuid>,
    /// Rows removed or anonymised, by table (the lead row itself not counted).
    #[schema(value_type = Object)]
    pub rows: Map<String, Value>,
}

/// What one run of the retention job did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RetentionRun {
    /// Leads erased (unconverted past the period, or in the trash past it).
    pub erased_leads: u64,
    /// Anonymous visitors' visits and visitors deleted.
    pub deleted_visits: u64,
    /// Rejected submissions and failed import rows deleted.
    pub deleted_rejected: u64,
}

/// The one-way key an erased address stays suppressed under: nobody can read the address
/// back, yet a later capture of it is still never mailed.
pub fn suppression_hash(match_key: &str) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(match_key.as_bytes()))
    )
}

/// Adds a store step's counts to the erasure's tally.
fn add(rows: &mut Map<String, Value>, done: store::Erased) {
    for (table, n) in done.0.into_iter().filter(|(_, n)| *n > 0) {
        let total = rows.get(&table).and_then(Value::as_u64).unwrap_or(0) + n;
        rows.insert(table, total.into());
    }
}

/// The person's addresses, lower-cased: on the leads, and any remembered by merges and
/// audited edits of the lead.
async fn addresses_of(
    tx: &mut DbTx,
    lead_id: Uuid,
    leads: &[leadline_domain::Lead],
) -> AppResult<Vec<String>> {
    let remembered = store::remembered_emails(tx.conn(), lead_id).await?;
    let mut out: Vec<String> = Vec::new();
    let candidates = leads
        .iter()
        .filter_map(|l| l.fields.email.clone())
        .chain(remembered);
    for e in candidates {
        let e = e.trim().to_lowercase();
        if leadline_domain::quality::normalize::email(&e).is_some() && !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Erases one lead (and the leads merged into it) inside the caller's transaction.
/// Returns `None` when it was erased already.
pub(crate) async fn erase_in(
    tx: &mut DbTx,
    by: &Principal,
    lead_id: Uuid,
) -> AppResult<Option<Erasure>> {
    let lead = leadline_store::leads::get_including_deleted(tx.conn(), lead_id)
        .await?
        .ok_or(AppError::NotFound("lead"))?;
    if store::erased_at(tx.conn(), lead_id).await?.is_some() {
        return Ok(None);
    }
    let t = now();
    let at = to_micros(t);
    let mut rows = Map::new();
    let absorbed = store::absorbed_by(tx.conn(), lead_id).await?;
    let mut everyone = vec![lead];
    for id in &absorbed {
        if store::erased_at(tx.conn(), *id).await?.is_none()
            && let Some(l) = leadline_store::leads::get_including_deleted(tx.conn(), *id).await?
        {
            everyone.push(l);
        }
    }
    // Every address the person used, including those only merges and edits remember:
    // what they sent under any of them goes too.
    let addresses = addresses_of(tx, lead_id, &everyone).await?;
    for email in &addresses {
        let done = store::erase_mentions(tx.conn(), email).await?;
        add(&mut rows, done);
        if let Some(key) = leadline_domain::quality::normalize::email(email).map(|e| e.match_key) {
            let n = store::hash_suppression(tx.conn(), &key, &suppression_hash(&key), at).await?;
            add(&mut rows, store::Erased(vec![("suppressions".into(), n)]));
        }
    }
    for l in everyone {
        add(&mut rows, store::erase(tx.conn(), l.id).await?);
        crate::nurture::run::lead_gone_in(tx, l.id, "lead_erased").await?;
        crate::tasks::cancel_open_in(tx, l.id).await?;
        leadline_store::sla::drop_clock(tx.conn(), l.id).await?;
        let mut anon = l.clone();
        anon.fields = erased_fields(&l.fields);
        anon.updated_at = t;
        anon.version += 1;
        leadline_store::leads::write_erased(tx.conn(), &anon, at).await?;
    }
    audit(
        tx,
        by,
        "lead.erased",
        "lead",
        Some(lead_id),
        json!({ "absorbed_leads": absorbed, "rows": rows }),
    )
    .await?;
    crate::events::emit_in(
        tx,
        vec![crate::events::Event::lead(
            "lead.erased",
            lead_id,
            json!({ "lead_id": lead_id, "absorbed_leads": absorbed }),
            t,
        )],
    )
    .await?;
    Ok(Some(Erasure {
        lead_id,
        erased_at: t,
        absorbed_leads: absorbed,
        rows,
    }))
}

impl App {
    /// Everything stored about the person behind a lead (admins and managers). Audited.
    pub async fn export_person(&self, by: &Principal, lead_id: Uuid) -> AppResult<PersonExport> {
        crate::auth::require_manager(by, "exporting a person's data")?;
        let mut tx = self.db.begin().await?;
        let lead = leadline_store::leads::get_including_deleted(tx.conn(), lead_id)
            .await?
            .ok_or(AppError::NotFound("lead"))?;
        let absorbed = store::absorbed_by(tx.conn(), lead_id).await?;
        let mut leads = vec![lead];
        for id in absorbed {
            if let Some(l) = leadline_store::leads::get_including_deleted(tx.conn(), id).await? {
                leads.push(l);
            }
        }
        let emails = addresses_of(&mut tx, lead_id, &leads).await?;
        let ids: Vec<Uuid> = leads.iter().map(|l| l.id).collect();
        let sections = store::export(tx.conn(), &ids, &emails)
            .await?
            .into_iter()
            .map(|s| ExportSection {
                table: s.table,
                rows: s.rows,
            })
            .collect::<Vec<_>>();
        let counts: Map<String, Value> = sections
            .iter()
            .map(|s| (s.table.clone(), s.rows.len().into()))
            .collect();
        audit(
            &mut tx,
            by,
            "lead.personal_data_exported",
            "lead",
            Some(lead_id),
            json!({ "rows": counts }),
        )
        .await?;
        tx.commit().await?;
        Ok(PersonExport {
            lead_id,
            exported_at: now(),
            sections,
        })
    }

    /// Erases the person behind a lead (admins only): their data is removed or anonymised
    /// in every table, the lead row stays for the reports. Audited; `lead.erased` is sent
    /// to webhooks. Erasing twice is refused with a conflict.
    pub async fn erase_person(&self, by: &Principal, lead_id: Uuid) -> AppResult<Erasure> {
        crate::auth::require_admin(by)?;
        let mut tx = self.db.begin().await?;
        let done = erase_in(&mut tx, by, lead_id).await?;
        let Some(done) = done else {
            return Err(AppError::Conflict("this lead was erased already".into()));
        };
        tx.commit().await?;
        tracing::info!(lead = %lead_id, "person erased");
        Ok(done)
    }

    /// When the lead was erased, if it was.
    pub async fn lead_erased_at(&self, lead_id: Uuid) -> AppResult<Option<DateTime<Utc>>> {
        let mut c = self.db.acquire().await?;
        Ok(store::erased_at(c.conn(), lead_id).await?.map(from_micros))
    }

    /// The retention policy (all periods unset until an admin sets them).
    pub async fn retention_policy(&self) -> AppResult<RetentionPolicy> {
        let mut c = self.db.acquire().await?;
        Ok(
            match leadline_store::settings::get(c.conn(), RETENTION_KEY).await? {
                Some(v) => serde_json::from_value(v).unwrap_or_default(),
                None => RetentionPolicy::default(),
            },
        )
    }

    /// Sets the retention policy (admins). Audited.
    pub async fn set_retention_policy(
        &self,
        by: &Principal,
        policy: RetentionPolicy,
    ) -> AppResult<RetentionPolicy> {
        crate::auth::require_admin(by)?;
        policy.validate()?;
        let value = serde_json::to_value(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        leadline_store::settings::put(tx.conn(), RETENTION_KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "retention.updated", "settings", None, value).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// One run of the retention job at `at`: erases due leads in batches, deletes old
    /// anonymous visits and rejected input. Audited when it did anything.
    pub async fn run_retention(&self, at: DateTime<Utc>) -> AppResult<RetentionRun> {
        let policy = self.retention_policy().await?;
        let mut run = RetentionRun::default();
        if !policy.is_active() {
            return Ok(run);
        }
        let cut = policy.cutoffs(at);
        let by = Principal::system("retention");
        loop {
            let mut tx = self.db.begin().await?;
            let due = store::due_for_erasure(
                tx.conn(),
                cut.unconverted_before.map(to_micros),
                cut.deleted_before.map(to_micros),
                RETENTION_BATCH,
            )
            .await?;
            if due.is_empty() {
                break;
            }
            for id in &due {
                if erase_in(&mut tx, &by, *id).await?.is_some() {
                    run.erased_leads += 1;
                }
            }
            tx.commit().await?;
        }
        let mut tx = self.db.begin().await?;
        if let Some(before) = cut.anonymous_visits_before {
            run.deleted_visits =
                store::delete_anonymous_visits(tx.conn(), to_micros(before)).await?;
        }
        if let Some(before) = cut.rejected_before {
            run.deleted_rejected = store::delete_rejected(tx.conn(), to_micros(before)).await?;
        }
        if run.erased_leads + run.deleted_visits + run.deleted_rejected > 0 {
            audit(
                &mut tx,
                &by,
                "retention.ran",
                "settings",
                None,
                serde_json::to_value(&run).unwrap_or_default(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(run)
    }
}

/// The export as CSV, one line per stored value: `table,row,column,value` (nested JSON
/// as JSON text), every cell neutralised against formula injection.
pub fn export_csv(export: &PersonExport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["table", "row", "column", "value"]);
    for s in &export.sections {
        for (i, row) in s.rows.iter().enumerate() {
            for (col, v) in row {
                let value = match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = w.write_record([
                    crate::export::csv_safe(&s.table).into_owned(),
                    (i + 1).to_string(),
                    crate::export::csv_safe(col).into_owned(),
                    crate::export::csv_safe(&value).into_owned(),
                ]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
