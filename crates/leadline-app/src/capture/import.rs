//! CSV import jobs: dry run with every problem, then the import in batches. Each batch
//! (its leads, timeline entries, outcomes, row errors and the job's progress) commits in
//! one transaction, so a crash loses nothing acknowledged and a resumed job continues at
//! the first row not committed: it ends with exactly the rows of the file.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult};
use crate::export::csv_safe;
pub use leadline_domain::capture::csv_file::{CsvFile, read_csv};
use leadline_domain::capture::import::{
    ColumnMapping, DuplicatePolicy, ImportJob, ImportOptions, ImportRowError, ImportStatus,
    MappedRow, RowMapper, UnknownColumns, infer_kind, resolve_mapping,
};
use leadline_domain::capture::merge_submission;
use leadline_domain::custom_field::NewCustomField;
use leadline_domain::lead::Outcome;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{
    Activity, CustomFieldDef, CustomFieldKind, DisqualifyReason, Lead, Principal, Stage,
};
use leadline_store::history::StageChange;
use leadline_store::{activities, capture as capture_store, imports, leads};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Rows per transaction: SQLite's single writer is best given short transactions (others
/// wait for it); PostgreSQL gains from fewer, larger ones.
pub fn batch_rows(backend: leadline_store::Backend) -> usize {
    match backend {
        leadline_store::Backend::Sqlite => 500,
        leadline_store::Backend::Postgres => 2_000,
    }
}
/// Row problems a dry run lists (the rest are counted).
const PREVIEW_ERRORS: usize = 10_000;
/// A runner that has not reported for this long is presumed dead; its job may be resumed.
const STALE_MICROS: i64 = 60_000_000;

fn raw_line(values: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(values.iter().map(|v| csv_safe(v).into_owned()));
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_owned()
}

fn fingerprint(values: &[String]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.trim().to_lowercase().as_bytes());
        h.update([0x1f]);
    }
    format!("row:{}", hex::encode(h.finalize()))
}

/// Custom fields an import with [`UnknownColumns::Auto`] would create: unknown columns
/// whose key is not defined yet, with the kind their values suggest.
fn new_custom_fields(
    file: &CsvFile,
    options: &ImportOptions,
    defs: &[CustomFieldDef],
) -> Vec<NewCustomField> {
    let mut out: Vec<NewCustomField> = Vec::new();
    let empties: Vec<String> = options
        .empty_values
        .iter()
        .map(|v| v.to_lowercase())
        .collect();
    for (i, m) in resolve_mapping(&file.headers, options).iter().enumerate() {
        let Some(key) = m.target.strip_prefix("custom.") else {
            continue;
        };
        if defs.iter().any(|d| d.key == key) || out.iter().any(|n| n.key == key) {
            continue;
        }
        if leadline_domain::LeadFields::NAMES.contains(&key) {
            continue;
        }
        let kind = infer_kind(
            file.rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(String::as_str)
                .filter(|v| !empties.contains(&v.trim().to_lowercase())),
        );
        out.push(NewCustomField {
            key: key.to_owned(),
            label: m.column.chars().take(100).collect(),
            kind,
            options: Vec::new(),
        });
    }
    out
}

/// What a dry run found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportPreview {
    pub headers: Vec<String>,
    /// The target of every column (empty: kept on the timeline entry only).
    pub mapping: Vec<ColumnMapping>,
    /// Custom fields the import would create.
    pub new_custom_fields: Vec<NewCustomFieldPreview>,
    pub total_rows: usize,
    pub valid_rows: usize,
    /// Valid rows whose lead exists already (handled by the duplicate policy).
    pub existing_rows: usize,
    /// The first rows as the lead fields they become.
    #[schema(value_type = Vec<Object>)]
    pub sample: Vec<Value>,
    /// Every problem (at most 10,000 listed), by row.
    pub errors: Vec<ImportRowError>,
    pub error_count: usize,
}

/// A custom field an import would create.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewCustomFieldPreview {
    pub key: String,
    pub label: String,
    pub kind: CustomFieldKind,
}

fn may_import(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "importing")
}

fn temp_defs(defs: &[CustomFieldDef], new: &[NewCustomField]) -> Vec<CustomFieldDef> {
    let mut all = defs.to_vec();
    all.extend(new.iter().map(|n| CustomFieldDef {
        id: Uuid::nil(),
        key: n.key.clone(),
        label: n.label.clone(),
        kind: n.kind,
        options: Vec::new(),
        created_at: now(),
    }));
    all
}

/// The outcome of one row, decided in a batch.
enum Plan {
    Create(Box<Lead>, Option<Outcome>, Map<String, Value>),
    Update(Uuid, Box<MappedRow>),
    Skip,
}

impl App {
    /// A dry run: reads the file, resolves the mapping, validates every row and counts the
    /// rows whose lead exists. Writes nothing.
    pub async fn preview_import(
        &self,
        by: &Principal,
        bytes: &[u8],
        options: &ImportOptions,
    ) -> AppResult<ImportPreview> {
        may_import(by)?;
        let file = read_csv(bytes)?;
        let defs = self.custom_fields().await?;
        let new = if options.unknown_columns == UnknownColumns::Auto {
            new_custom_fields(&file, options, &defs)
        } else {
            Vec::new()
        };
        let all_defs = temp_defs(&defs, &new);
        let mapper = RowMapper::new(&file.headers, options, &all_defs)?;
        let mut errors = Vec::new();
        let mut error_count = 0;
        let mut valid = Vec::new();
        let mut sample = Vec::new();
        for (i, row) in file.rows.iter().enumerate() {
            let refs: Vec<&str> = row.iter().map(String::as_str).collect();
            match mapper.row(&refs) {
                Ok(m) => {
                    if sample.len() < 10 {
                        sample.push(serde_json::to_value(&m.fields).unwrap_or(Value::Null));
                    }
                    valid.push(m);
                }
                Err(errs) => {
                    for e in errs {
                        error_count += 1;
                        if errors.len() < PREVIEW_ERRORS {
                            errors.push(ImportRowError {
                                row: i as i64 + 1,
                                column: e.field,
                                code: e.code,
                                message: e.message,
                                raw: raw_line(row),
                            });
                        }
                    }
                }
            }
        }
        let mut existing = 0;
        let mut c = self.db.acquire().await?;
        for chunk in valid.chunks(batch_rows(self.db.backend())) {
            let (by_ext, by_email) = lookup(&mut c, chunk).await?;
            existing += chunk
                .iter()
                .filter(|m| {
                    m.fields
                        .external_id
                        .as_ref()
                        .is_some_and(|x| by_ext.contains_key(x))
                        || leads::email_key(m.fields.email.as_deref())
                            .is_some_and(|k| by_email.contains_key(&k))
                })
                .count();
        }
        Ok(ImportPreview {
            headers: file.headers.clone(),
            mapping: mapper.mapping(),
            new_custom_fields: new
                .into_iter()
                .map(|n| NewCustomFieldPreview {
                    key: n.key,
                    label: n.label,
                    kind: n.kind,
                })
                .collect(),
            total_rows: file.rows.len(),
            valid_rows: valid.len(),
            existing_rows: existing,
            sample,
            errors,
            error_count,
        })
    }

    /// Checks the mapping against the file and creates the custom fields it needs.
    async fn prepare(
        &self,
        by: &Principal,
        file: &CsvFile,
        options: &ImportOptions,
    ) -> AppResult<()> {
        let defs = self.custom_fields().await?;
        let new = if options.unknown_columns == UnknownColumns::Auto {
            new_custom_fields(file, options, &defs)
        } else {
            Vec::new()
        };
        RowMapper::new(&file.headers, options, &temp_defs(&defs, &new))?;
        // Creating fields is an admin's right; an import that needs them acts for the
        // system, and the audit trail names the importer.
        let creator = Principal::system(&format!("import by {}", by.label));
        for n in new {
            self.create_custom_field(&creator, n).await?;
        }
        Ok(())
    }

    /// Creates an import job (and the custom fields it needs) without running it. The
    /// mapping is checked now, so a bad one fails before anything is stored.
    pub async fn create_import(
        &self,
        by: &Principal,
        file_name: &str,
        bytes: &[u8],
        options: ImportOptions,
    ) -> AppResult<ImportJob> {
        may_import(by)?;
        let file = read_csv(bytes)?;
        self.prepare(by, &file, &options).await?;
        self.insert_job(by, file_name, bytes, &file, options, ImportStatus::Pending)
            .await
    }

    /// Stores an uploaded file as a draft whose mapping a person reviews (the UI wizard).
    pub async fn create_import_draft(
        &self,
        by: &Principal,
        file_name: &str,
        bytes: &[u8],
        options: ImportOptions,
    ) -> AppResult<ImportJob> {
        may_import(by)?;
        let file = read_csv(bytes)?;
        self.insert_job(by, file_name, bytes, &file, options, ImportStatus::Draft)
            .await
    }

    /// The dry run of a draft with `options`.
    pub async fn preview_draft(
        &self,
        by: &Principal,
        id: Uuid,
        options: &ImportOptions,
    ) -> AppResult<ImportPreview> {
        let bytes = self.draft_content(by, id).await?;
        self.preview_import(by, &bytes, options).await
    }

    async fn draft_content(&self, by: &Principal, id: Uuid) -> AppResult<Vec<u8>> {
        let job = self.import_job(by, id).await?;
        if job.status != ImportStatus::Draft {
            return Err(AppError::Conflict("this import has already started".into()));
        }
        let mut c = self.db.acquire().await?;
        imports::content(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("import"))
    }

    /// Starts a draft with the reviewed options.
    pub async fn start_import(
        &self,
        by: &Principal,
        id: Uuid,
        options: ImportOptions,
    ) -> AppResult<ImportJob> {
        let bytes = self.draft_content(by, id).await?;
        let file = read_csv(&bytes)?;
        self.prepare(by, &file, &options).await?;
        let mut tx = self.db.begin().await?;
        if !imports::set_options(
            tx.conn(),
            id,
            &options,
            ImportStatus::Pending,
            to_micros(now()),
        )
        .await?
        {
            return Err(AppError::Conflict("this import has already started".into()));
        }
        audit(
            &mut tx,
            by,
            "import.started",
            "import",
            Some(id),
            Value::Null,
        )
        .await?;
        tx.commit().await?;
        self.import_job(by, id).await
    }

    async fn insert_job(
        &self,
        by: &Principal,
        file_name: &str,
        bytes: &[u8],
        file: &CsvFile,
        options: ImportOptions,
        status: ImportStatus,
    ) -> AppResult<ImportJob> {
        let t = now();
        let job = ImportJob {
            id: Uuid::now_v7(),
            file_name: file_name.chars().take(255).collect(),
            file_sha256: hex::encode(Sha256::digest(bytes)),
            options,
            status,
            total_rows: file.rows.len() as i64,
            processed_rows: 0,
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 0,
            created_by: by.label.clone(),
            created_at: t,
            updated_at: t,
            finished_at: None,
        };
        let mut tx = self.db.begin().await?;
        imports::insert(tx.conn(), &job, bytes).await?;
        audit(
            &mut tx,
            by,
            "import.created",
            "import",
            Some(job.id),
            json!({"file_name": job.file_name, "rows": job.total_rows}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(import_id = %job.id, rows = job.total_rows, "import created");
        Ok(job)
    }

    /// An unfinished import of the same file, to resume instead of starting again.
    pub async fn unfinished_import_of(&self, bytes: &[u8]) -> AppResult<Option<ImportJob>> {
        let sha = hex::encode(Sha256::digest(bytes));
        let mut c = self.db.acquire().await?;
        Ok(imports::unfinished(c.conn())
            .await?
            .into_iter()
            .find(|j| j.file_sha256 == sha))
    }

    /// Every import job that has not ended (resumed at start-up).
    pub async fn unfinished_imports(&self) -> AppResult<Vec<ImportJob>> {
        let mut c = self.db.acquire().await?;
        Ok(imports::unfinished(c.conn()).await?)
    }

    /// One import job.
    pub async fn import_job(&self, by: &Principal, id: Uuid) -> AppResult<ImportJob> {
        may_import(by)?;
        let mut c = self.db.acquire().await?;
        imports::get(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("import"))
    }

    /// The newest import jobs.
    pub async fn import_jobs(&self, by: &Principal) -> AppResult<Vec<ImportJob>> {
        may_import(by)?;
        let mut c = self.db.acquire().await?;
        Ok(imports::list(c.conn(), 50).await?)
    }

    /// The row problems of an import, as a CSV report (row, column, code, message, the row).
    pub async fn import_error_report(&self, by: &Principal, id: Uuid) -> AppResult<Vec<u8>> {
        let job = self.import_job(by, id).await?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| AppError::Internal(e.to_string());
        w.write_record(["row", "column", "code", "message", "raw"])
            .map_err(io)?;
        let mut c = self.db.acquire().await?;
        let mut after = 0;
        loop {
            let page = imports::errors(c.conn(), job.id, after, 5_000).await?;
            let Some(last) = page.last() else { break };
            let last_row = last.row;
            for e in &page {
                w.write_record([
                    e.row.to_string(),
                    csv_safe(&e.column).into_owned(),
                    e.code.clone(),
                    csv_safe(&e.message).into_owned(),
                    csv_safe(&e.raw).into_owned(),
                ])
                .map_err(io)?;
            }
            // Errors of one row share its number: the next page starts after it.
            if page.len() < 5_000 {
                break;
            }
            after = last_row;
        }
        w.into_inner()
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Runs (or resumes) an import in the background, then verifies the leads it created;
    /// does nothing when another runner has it. Failures are logged with the job's id.
    pub fn spawn_import(&self, id: Uuid) {
        let app = self.clone();
        tokio::spawn(async move {
            match app.run_import(id, |_| {}).await {
                Ok(Some(job)) => {
                    if let Err(e) = app.verify_unchecked(job.created_at).await {
                        tracing::error!(import_id = %id, error = %e, "verifying the import failed");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(import_id = %id, error = %e, "import failed"),
            }
        });
    }

    /// Runs (or resumes) an import until every row is handled. `progress` is called after
    /// each committed batch. Returns the finished job; `None` when another runner has it.
    pub async fn run_import(
        &self,
        id: Uuid,
        mut progress: impl FnMut(&ImportJob),
    ) -> AppResult<Option<ImportJob>> {
        let t = to_micros(now());
        {
            let mut tx = self.db.begin().await?;
            if !imports::claim(tx.conn(), id, t, t - STALE_MICROS).await? {
                return Ok(None);
            }
            tx.commit().await?;
        }
        match self.run_claimed(id, &mut progress).await {
            Ok(job) => Ok(Some(job)),
            Err(e) => {
                tracing::error!(import_id = %id, error = %e, "import stopped");
                let mut tx = self.db.begin().await?;
                imports::finish(tx.conn(), id, ImportStatus::Failed, to_micros(now())).await?;
                import_finished_in(&mut tx, id).await?;
                tx.commit().await?;
                Err(e)
            }
        }
    }

    async fn run_claimed(
        &self,
        id: Uuid,
        progress: &mut impl FnMut(&ImportJob),
    ) -> AppResult<ImportJob> {
        let (job, bytes) = {
            let mut c = self.db.acquire().await?;
            let job = imports::get(c.conn(), id)
                .await?
                .ok_or(AppError::NotFound("import"))?;
            let bytes = imports::content(c.conn(), id).await?.ok_or_else(|| {
                AppError::Internal("the import's file is gone; start a new import".into())
            })?;
            (job, bytes)
        };
        let file = read_csv(&bytes)?;
        drop(bytes);
        let defs = self.custom_fields().await?;
        let mapper = RowMapper::new(&file.headers, &job.options, &defs)?;
        let actor = Principal::system(&format!("import {}", job.file_name));
        let mut next = job.processed_rows.max(0) as usize;
        progress(&job);
        while next < file.rows.len() {
            let end = (next + batch_rows(self.db.backend())).min(file.rows.len());
            self.import_batch(&job, &mapper, &file.rows[next..end], next, &actor)
                .await?;
            next = end;
            let mut c = self.db.acquire().await?;
            if let Some(j) = imports::get(c.conn(), id).await? {
                progress(&j);
            }
        }
        let mut tx = self.db.begin().await?;
        imports::finish(tx.conn(), id, ImportStatus::Done, to_micros(now())).await?;
        import_finished_in(&mut tx, id).await?;
        tx.commit().await?;
        let mut c = self.db.acquire().await?;
        let done = imports::get(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("import"))?;
        if done.created + done.updated > 0
            && let Err(e) = self.db.refresh_statistics().await
        {
            tracing::warn!(error = %e, "statistics not refreshed after the import");
        }
        tracing::info!(import_id = %id, created = done.created, updated = done.updated,
            skipped = done.skipped, failed = done.failed, "import finished");
        progress(&done);
        Ok(done)
    }

    /// Handles rows `first..first + rows.len()` in one transaction.
    async fn import_batch(
        &self,
        job: &ImportJob,
        mapper: &RowMapper,
        rows: &[Vec<String>],
        first: usize,
        actor: &Principal,
    ) -> AppResult<()> {
        let started = std::time::Instant::now();
        let policy = job.options.duplicates;
        let mut errors = Vec::new();
        let mut mapped: Vec<(usize, MappedRow, Option<String>)> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let refs: Vec<&str> = row.iter().map(String::as_str).collect();
            match mapper.row(&refs) {
                Ok(m) => {
                    let no_identity = m.fields.external_id.is_none() && m.fields.email.is_none();
                    let fp = (no_identity || policy == DuplicatePolicy::Create)
                        .then(|| fingerprint(row));
                    mapped.push((first + i, m, fp));
                }
                Err(errs) => errors.extend(errs.into_iter().map(|e| ImportRowError {
                    row: (first + i + 1) as i64,
                    column: e.field,
                    code: e.code,
                    message: e.message,
                    raw: raw_line(row),
                })),
            }
        }
        let failed_rows = rows.len() - mapped.len();
        let mapped_at = started.elapsed();
        let t = now();
        let mut tx = self.db.begin().await?;
        let only: Vec<&MappedRow> = mapped.iter().map(|(_, m, _)| m).collect();
        let (by_ext, by_email) = lookup_tx(&mut tx, &only).await?;
        let fps: Vec<String> = mapped.iter().filter_map(|(_, _, f)| f.clone()).collect();
        let lookups_at = started.elapsed();
        let known_fp: HashSet<String> = capture_store::leads_by_fingerprints(tx.conn(), &fps)
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        // Keys seen earlier in this batch point at the lead that row made.
        let mut batch_ext: HashMap<String, Uuid> = HashMap::new();
        let mut batch_email: HashMap<String, Uuid> = HashMap::new();
        let mut batch_fp: HashSet<String> = HashSet::new();
        let mut plans = Vec::with_capacity(mapped.len());
        for (row_no, m, fp) in mapped {
            if fp
                .as_ref()
                .is_some_and(|f| known_fp.contains(f) || batch_fp.contains(f))
            {
                plans.push((row_no, Plan::Skip, None));
                continue;
            }
            let ekey = leads::email_key(m.fields.email.as_deref());
            let by_id = m
                .fields
                .external_id
                .as_ref()
                .and_then(|x| by_ext.get(x).or_else(|| batch_ext.get(x)).copied());
            let by_mail = ekey
                .as_ref()
                .and_then(|k| by_email.get(k).or_else(|| batch_email.get(k)).copied());
            let plan = match (by_id, by_mail, policy) {
                (Some(_), _, DuplicatePolicy::Skip | DuplicatePolicy::Create)
                | (None, Some(_), DuplicatePolicy::Skip) => Plan::Skip,
                (Some(id), _, DuplicatePolicy::Update)
                | (None, Some(id), DuplicatePolicy::Update) => Plan::Update(id, Box::new(m)),
                (None, _, _) => {
                    let mut lead = Lead {
                        id: Uuid::now_v7(),
                        fields: m.fields,
                        stage: Stage::New,
                        disqualify_reason: None,
                        score: 0,
                        grade: None,
                        created_at: t,
                        updated_at: t,
                        version: 1,
                    };
                    match m.outcome {
                        Some(Outcome::Won) => lead.stage = Stage::Converted,
                        Some(Outcome::Lost) => {
                            lead.stage = Stage::Disqualified;
                            lead.disqualify_reason = Some(DisqualifyReason::Other);
                        }
                        None => {}
                    }
                    if let Some(x) = &lead.fields.external_id {
                        batch_ext.insert(x.clone(), lead.id);
                    }
                    if let Some(k) = &ekey {
                        batch_email.insert(k.clone(), lead.id);
                    }
                    Plan::Create(Box::new(lead), m.outcome, m.unmapped)
                }
            };
            if let Some(f) = &fp {
                batch_fp.insert(f.clone());
            }
            plans.push((row_no, plan, fp));
        }
        let (mut created, mut updated, mut skipped) = (0i64, 0i64, 0i64);
        let mut new_leads = Vec::new();
        let mut acts = Vec::new();
        let mut stages = Vec::new();
        let mut outcomes = Vec::new();
        let mut new_fps = Vec::new();
        let activity =
            |lead_id: Uuid, row_no: usize, created: bool, unmapped: Map<String, Value>| {
                let mut p = Map::new();
                p.insert("import_id".into(), job.id.to_string().into());
                p.insert("file_name".into(), job.file_name.clone().into());
                p.insert("row".into(), (row_no + 1).into());
                p.insert("created".into(), created.into());
                if !unmapped.is_empty() {
                    p.insert("unmapped".into(), Value::Object(unmapped));
                }
                Activity {
                    id: Uuid::now_v7(),
                    lead_id,
                    kind: "imported".into(),
                    occurred_at: t,
                    properties: p,
                    recorded_by: Some(actor.label.clone()),
                    created_at: t,
                }
            };
        for (row_no, plan, fp) in plans {
            match plan {
                Plan::Skip => skipped += 1,
                Plan::Create(lead, outcome, unmapped) => {
                    created += 1;
                    acts.push(activity(lead.id, row_no, true, unmapped));
                    stages.push(StageChange {
                        id: Uuid::now_v7(),
                        lead_id: lead.id,
                        from_stage: None,
                        to_stage: lead.stage.as_str().into(),
                        reason: lead.disqualify_reason.map(|r| r.as_str().to_owned()),
                        note: Some(match outcome {
                            Some(o) => format!("imported with historical outcome {}", o.as_str()),
                            None => "imported".into(),
                        }),
                        actor: actor.label.clone(),
                        at: t,
                    });
                    if let Some(o) = outcome {
                        outcomes.push((lead.id, o));
                    }
                    if let Some(f) = fp {
                        new_fps.push((f, lead.id));
                    }
                    new_leads.push(*lead);
                }
                Plan::Update(id, m) => {
                    let Some(current) = leads::get(tx.conn(), id).await? else {
                        skipped += 1;
                        continue;
                    };
                    let merged = merge_submission(&current.fields, &m.fields);
                    if merged != current.fields {
                        let lead = Lead {
                            fields: merged,
                            updated_at: t,
                            version: current.version + 1,
                            ..current.clone()
                        };
                        if !leads::update(tx.conn(), &lead, current.version).await? {
                            return Err(AppError::Conflict(
                                "a lead changed during the import; resume it".into(),
                            ));
                        }
                        let changes = leadline_domain::lead::diff(&current.fields, &lead.fields);
                        crate::events::lead_updated_in(&mut tx, &lead, &changes).await?;
                    }
                    updated += 1;
                    acts.push(activity(id, row_no, false, m.unmapped));
                    if let Some(o) = m.outcome {
                        outcomes.push((id, o));
                    }
                    if let Some(f) = fp {
                        new_fps.push((f, id));
                    }
                }
            }
        }
        let planned_at = started.elapsed();
        leads::insert_many(tx.conn(), &new_leads).await?;
        crate::events::leads_created_in(&mut tx, &new_leads).await?;
        let leads_at = started.elapsed();
        crate::events::stages_changed_in(&mut tx, &stages).await?;
        activities::insert_many(tx.conn(), &acts).await?;
        let timeline_at = started.elapsed();
        capture_store::set_outcomes(
            tx.conn(),
            &outcomes,
            &format!("import {}", job.id),
            to_micros(t),
        )
        .await?;
        capture_store::add_fingerprints(tx.conn(), &new_fps).await?;
        imports::add_errors(tx.conn(), job.id, &errors).await?;
        imports::advance(
            tx.conn(),
            job.id,
            (first + rows.len()) as i64,
            created,
            updated,
            skipped,
            failed_rows as i64,
            to_micros(now()),
        )
        .await?;
        tx.commit().await?;
        tracing::debug!(
            import_id = %job.id,
            rows = rows.len(),
            map_ms = mapped_at.as_millis() as u64,
            lookup_ms = (lookups_at - mapped_at).as_millis() as u64,
            plan_ms = (planned_at - lookups_at).as_millis() as u64,
            leads_ms = (leads_at - planned_at).as_millis() as u64,
            timeline_ms = (timeline_at - leads_at).as_millis() as u64,
            rest_ms = (started.elapsed() - timeline_at).as_millis() as u64,
            "import batch"
        );
        Ok(())
    }
}

type Lookup = (HashMap<String, Uuid>, HashMap<String, Uuid>);

fn keys<R: std::borrow::Borrow<MappedRow>>(rows: &[R]) -> (Vec<String>, Vec<String>) {
    let ext = rows
        .iter()
        .filter_map(|m| m.borrow().fields.external_id.clone())
        .collect();
    let emails = rows
        .iter()
        .filter_map(|m| leads::email_key(m.borrow().fields.email.as_deref()))
        .collect();
    (ext, emails)
}

fn first_wins(pairs: Vec<(String, Uuid)>) -> HashMap<String, Uuid> {
    let mut m = HashMap::new();
    for (k, id) in pairs {
        m.entry(k).or_insert(id);
    }
    m
}

async fn lookup(c: &mut leadline_store::DbConn, rows: &[MappedRow]) -> AppResult<Lookup> {
    let (ext, emails) = keys(rows);
    Ok((
        first_wins(capture_store::leads_by_external_ids(c.conn(), &ext).await?),
        first_wins(capture_store::leads_by_email_keys(c.conn(), &emails).await?),
    ))
}

async fn lookup_tx(tx: &mut leadline_store::DbTx, rows: &[&MappedRow]) -> AppResult<Lookup> {
    let (ext, emails) = keys(rows);
    Ok((
        first_wins(capture_store::leads_by_external_ids(tx.conn(), &ext).await?),
        first_wins(capture_store::leads_by_email_keys(tx.conn(), &emails).await?),
    ))
}

/// `import.finished` with the job as it ended (status and counts).
async fn import_finished_in(tx: &mut leadline_store::DbTx, id: Uuid) -> AppResult<()> {
    if let Some(job) = imports::get(tx.conn(), id).await? {
        let data = serde_json::json!({ "import": job });
        let event = crate::events::Event {
            event_type: "import.finished",
            lead_id: None,
            data,
            at: job.finished_at.unwrap_or_else(now),
        };
        crate::events::emit_in(tx, vec![event]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_neutralise_formulas() {
        assert_eq!(raw_line(&["=1+1".into(), "ok".into()]), "'=1+1,ok");
    }
}
