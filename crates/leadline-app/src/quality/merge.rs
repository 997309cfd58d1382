//! Merging duplicate leads into one, and undoing a merge.
//!
//! A merge keeps the survivor's id, stage, score and owner (unless it has none), fills its
//! fields by the configured survivorship rule (or a person's picks), moves the merged leads'
//! timeline, history, visitors, tracked links and import fingerprints to it, and deletes the
//! merged leads. The merge record keeps both sides as they were, so an unmerge restores them.

use super::{load_settings, may_review, verify_in};
use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, invalid, taken};
use crate::leads::{EXTERNAL_ID_TAKEN, check_refs};
use chrono::{DateTime, Utc};
use leadline_domain::quality::matching::blocking_keys;
use leadline_domain::quality::survivorship::{FieldPick, unmerge_fields};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Activity, Lead, LeadFields, Principal};
use leadline_store::merges::{self as store, MergeRow, Moved};
use leadline_store::{DbTx, activities, duplicates, leads, quality};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// At most this many leads fold into one survivor at once.
const MAX_MERGED: usize = 10;

/// A merge request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The lead that stays (its id, stage, score and owner are kept).
    pub survivor_id: Uuid,
    /// The leads folded into it and then deleted (1 to 10).
    pub merged_ids: Vec<Uuid>,
    /// Per field (`phone`, `custom.budget_code`…), the lead whose value to keep; the other
    /// fields follow the configured survivorship rule.
    #[serde(default)]
    pub fields: BTreeMap<String, Uuid>,
}

/// What a merge would produce, shown before a person confirms it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergePreview {
    pub survivor: Lead,
    pub merged: Vec<Lead>,
    /// The survivor's fields after the merge.
    pub result: LeadFields,
    /// Where each kept value comes from.
    pub picks: Vec<FieldPick>,
}

/// A merge as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeRecord {
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub merged_ids: Vec<Uuid>,
    /// The merged leads' names, as they were.
    pub merged_names: Vec<String>,
    pub picks: Vec<FieldPick>,
    pub merged_by: String,
    pub merged_at: DateTime<Utc>,
    pub undone_by: Option<String>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// The outcome of an unmerge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unmerged {
    pub survivor: Lead,
    /// The leads brought back.
    pub restored: Vec<Lead>,
    /// Survivor fields changed after the merge, which keep their newer value.
    pub kept_fields: Vec<String>,
}

fn record(r: &MergeRow) -> MergeRecord {
    let merged: Vec<Lead> = serde_json::from_value::<Vec<Value>>(r.merged.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(lead_from_snapshot)
        .collect();
    MergeRecord {
        id: r.id,
        survivor_id: r.survivor_id,
        merged_ids: merged.iter().map(|l| l.id).collect(),
        merged_names: merged.iter().map(|l| l.fields.display_name()).collect(),
        picks: serde_json::from_value(r.picks.clone()).unwrap_or_default(),
        merged_by: r.merged_by.clone(),
        merged_at: from_micros(r.merged_at),
        undone_by: r.undone_by.clone(),
        undone_at: r.undone_at.map(from_micros),
    }
}

/// Snapshots store a lead's JSON form (fields flattened beside id, stage, …).
fn snapshot(l: &Lead) -> Value {
    serde_json::to_value(l).unwrap_or(Value::Null)
}

fn lead_from_snapshot(v: Value) -> Option<Lead> {
    let id = v.get("id")?.as_str()?.parse().ok()?;
    let mut fields_json = v.as_object()?.clone();
    for k in [
        "id",
        "stage",
        "disqualify_reason",
        "score",
        "grade",
        "created_at",
        "updated_at",
        "version",
    ] {
        fields_json.remove(k);
    }
    let fields: LeadFields = serde_json::from_value(Value::Object(fields_json)).ok()?;
    Some(Lead {
        id,
        fields,
        stage: serde_json::from_value(v.get("stage")?.clone()).ok()?,
        disqualify_reason: serde_json::from_value(v.get("disqualify_reason")?.clone()).ok()?,
        score: v.get("score")?.as_i64()? as i32,
        grade: serde_json::from_value(v.get("grade")?.clone()).ok()?,
        created_at: serde_json::from_value(v.get("created_at")?.clone()).ok()?,
        updated_at: serde_json::from_value(v.get("updated_at")?.clone()).ok()?,
        version: v.get("version")?.as_i64()?,
    })
}

fn fields_from(v: &Value) -> Option<LeadFields> {
    lead_from_snapshot(v.clone()).map(|l| l.fields)
}

/// Loads and checks the leads of a merge request.
async fn load(tx: &mut DbTx, by: &Principal, input: &MergeInput) -> AppResult<(Lead, Vec<Lead>)> {
    may_review(by)?;
    let mut ids = input.merged_ids.clone();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_MERGED {
        return Err(invalid(
            "merged_ids",
            "out_of_range",
            "name 1 to 10 leads to merge",
        ));
    }
    if ids.contains(&input.survivor_id) {
        return Err(invalid(
            "merged_ids",
            "contains_survivor",
            "the survivor cannot be merged into itself",
        ));
    }
    let mut all = Vec::with_capacity(ids.len() + 1);
    for id in std::iter::once(input.survivor_id).chain(ids.iter().copied()) {
        let lead = leads::get(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("lead"))?;
        if !by.can_see_lead(lead.fields.owner_id) {
            return Err(AppError::NotFound("lead"));
        }
        if !by.can_edit_lead(lead.fields.owner_id) {
            return Err(AppError::Forbidden("you may not change this lead".into()));
        }
        all.push(lead);
    }
    let survivor = all.remove(0);
    for (field, from) in &input.fields {
        if *from != survivor.id && !ids.contains(from) {
            return Err(invalid(
                &format!("fields.{field}"),
                "unknown_lead",
                "pick a value from one of the merged leads",
            ));
        }
    }
    Ok((survivor, all))
}

/// The merges a lead survived, newest first (for its page).
pub(crate) async fn merges_of(
    conn: leadline_store::Conn<'_>,
    lead: Uuid,
) -> AppResult<Vec<MergeRecord>> {
    Ok(store::list(conn, Some(lead), None, 20)
        .await?
        .iter()
        .map(record)
        .collect())
}

impl App {
    /// What merging would produce, without writing anything.
    pub async fn merge_preview(
        &self,
        by: &Principal,
        input: &MergeInput,
    ) -> AppResult<MergePreview> {
        let mut tx = self.db.begin().await?;
        let (survivor, merged) = load(&mut tx, by, input).await?;
        let s = load_settings(&mut tx).await?;
        let others: Vec<&Lead> = merged.iter().collect();
        let m = s.survivorship.merge(&survivor, &others, &input.fields);
        Ok(MergePreview {
            survivor,
            merged,
            result: m.fields,
            picks: m.picks,
        })
    }

    /// Merges leads into a survivor (see the module documentation). Returns the record.
    pub async fn merge_leads(&self, by: &Principal, input: MergeInput) -> AppResult<MergeRecord> {
        let mut tx = self.db.begin().await?;
        let (survivor, merged) = load(&mut tx, by, &input).await?;
        let s = load_settings(&mut tx).await?;
        let others: Vec<&Lead> = merged.iter().collect();
        let m = s.survivorship.merge(&survivor, &others, &input.fields);
        let t = now();
        let merge_id = Uuid::now_v7();
        let mut moved: Map<String, Value> = Map::new();
        // The merged leads go first, so a unique value they held (an external id) is free
        // for the survivor.
        for l in &merged {
            if !leads::soft_delete(tx.conn(), l.id, to_micros(t)).await? {
                return Err(AppError::Conflict(
                    "a lead changed during the merge; retry".into(),
                ));
            }
            crate::nurture::run::lead_gone_in(&mut tx, l.id, "merged").await?;
            let mv = store::repoint(tx.conn(), l.id, survivor.id).await?;
            moved.insert(
                l.id.to_string(),
                serde_json::to_value(&mv).unwrap_or(Value::Null),
            );
            quality::set_keys(tx.conn(), l.id, &[]).await?;
            duplicates::decide(
                tx.conn(),
                survivor.id,
                l.id,
                "merged",
                &by.label,
                to_micros(t),
            )
            .await?;
        }
        check_refs(&mut tx, &m.fields, Some(&survivor.fields)).await?;
        let after = Lead {
            fields: m.fields,
            updated_at: t,
            version: survivor.version + 1,
            ..survivor.clone()
        };
        if !leads::update(tx.conn(), &after, survivor.version)
            .await
            .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?
        {
            return Err(AppError::Conflict(
                "the survivor changed during the merge; retry".into(),
            ));
        }
        verify_in(&mut tx, &after, &s).await?;
        let data = json!({ "merge_id": merge_id, "survivor": after,
            "merged_ids": merged.iter().map(|l| l.id).collect::<Vec<_>>() });
        crate::events::emit_in(
            &mut tx,
            vec![crate::events::Event::lead(
                "lead.merged",
                survivor.id,
                data,
                t,
            )],
        )
        .await?;
        // The timeline says in words what changed; the merge record keeps the details.
        let changed: Vec<String> = leadline_domain::lead::diff(&survivor.fields, &after.fields)
            .into_iter()
            .map(|c| c.field)
            .collect();
        let mut properties = Map::new();
        properties.insert("merge_id".into(), merge_id.to_string().into());
        properties.insert(
            "merged".into(),
            merged
                .iter()
                .map(|l| format!("{} ({})", l.fields.display_name(), l.id))
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
        );
        properties.insert(
            "fields_changed".into(),
            if changed.is_empty() {
                "none".to_owned()
            } else {
                changed.join(", ")
            }
            .into(),
        );
        activities::insert(
            tx.conn(),
            &Activity {
                id: Uuid::now_v7(),
                lead_id: survivor.id,
                kind: "merged".into(),
                occurred_at: t,
                properties,
                recorded_by: Some(by.label.clone()),
                created_at: t,
            },
        )
        .await?;
        let row = MergeRow {
            id: merge_id,
            survivor_id: survivor.id,
            merged: Value::Array(merged.iter().map(snapshot).collect()),
            survivor_before: snapshot(&survivor),
            survivor_after: snapshot(&after),
            moved: Value::Object(moved),
            picks: serde_json::to_value(&m.picks).unwrap_or(Value::Null),
            merged_by: by.label.clone(),
            merged_at: to_micros(t),
            undone_by: None,
            undone_at: None,
        };
        let merged_ids: Vec<Uuid> = merged.iter().map(|l| l.id).collect();
        store::insert(tx.conn(), &row, &merged_ids).await?;
        crate::scoring::score_lead_in(&mut tx, survivor.id, "merged").await?;
        audit(
            &mut tx,
            by,
            "lead.merged",
            "lead",
            Some(survivor.id),
            json!({ "merge_id": merge_id, "merged": merged_ids }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(merge_id = %merge_id, survivor = %survivor.id, merged = merged_ids.len(), "leads merged");
        Ok(record(&row))
    }

    /// Undoes a merge: the merged leads come back with what was moved from them, and the
    /// survivor's fields return to their values before the merge, except fields changed
    /// since, which keep their newer value. The pair is then dismissed so it is not merged
    /// again by a bulk merge.
    pub async fn unmerge(&self, by: &Principal, merge_id: Uuid) -> AppResult<Unmerged> {
        may_review(by)?;
        let mut tx = self.db.begin().await?;
        let row = store::get(tx.conn(), merge_id)
            .await?
            .ok_or(AppError::NotFound("merge"))?;
        if row.undone_at.is_some() {
            return Err(AppError::Conflict("this merge was already undone".into()));
        }
        if leadline_store::privacy::erased_at(tx.conn(), row.survivor_id)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(
                "the person was erased; their merge cannot be undone".into(),
            ));
        }
        let current = leads::get(tx.conn(), row.survivor_id)
            .await?
            .ok_or_else(|| {
                AppError::Conflict("the surviving lead was deleted; restore it first".into())
            })?;
        if !by.can_edit_lead(current.fields.owner_id) {
            return Err(AppError::Forbidden("you may not change this lead".into()));
        }
        let (Some(before), Some(after)) = (
            fields_from(&row.survivor_before),
            fields_from(&row.survivor_after),
        ) else {
            return Err(AppError::Internal(format!(
                "merge {merge_id}: unreadable snapshot"
            )));
        };
        let (fields, kept_fields) = unmerge_fields(&before, &after, &current.fields);
        let t = now();
        let survivor = Lead {
            fields,
            updated_at: t,
            version: current.version + 1,
            ..current.clone()
        };
        if !leads::update(tx.conn(), &survivor, current.version).await? {
            return Err(AppError::Conflict(
                "the lead changed during the unmerge; retry".into(),
            ));
        }
        let s = load_settings(&mut tx).await?;
        let moved: Map<String, Value> = row.moved.as_object().cloned().unwrap_or_default();
        let mut restored = Vec::new();
        for (id, mv) in &moved {
            let Ok(id) = id.parse::<Uuid>() else { continue };
            let mv: Moved = serde_json::from_value(mv.clone()).unwrap_or_default();
            store::move_back(tx.conn(), &mv, survivor.id, id).await?;
            if !leads::restore(tx.conn(), id, to_micros(t))
                .await
                .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?
            {
                return Err(AppError::Conflict(format!(
                    "lead {id} is no longer merged away"
                )));
            }
            let Some(lead) = leads::get(tx.conn(), id).await? else {
                continue;
            };
            let keys = blocking_keys(&lead.fields, s.default_region.as_deref());
            quality::set_keys(tx.conn(), id, &keys).await?;
            duplicates::keep_apart(tx.conn(), survivor.id, id, &by.label, to_micros(t)).await?;
            restored.push(lead);
        }
        verify_in(&mut tx, &survivor, &s).await?;
        for lead_id in std::iter::once(survivor.id).chain(restored.iter().map(|l| l.id)) {
            let mut p = Map::new();
            p.insert("merge_id".into(), merge_id.to_string().into());
            activities::insert(
                tx.conn(),
                &Activity {
                    id: Uuid::now_v7(),
                    lead_id,
                    kind: "unmerged".into(),
                    occurred_at: t,
                    properties: p,
                    recorded_by: Some(by.label.clone()),
                    created_at: t,
                },
            )
            .await?;
        }
        store::mark_undone(tx.conn(), merge_id, &by.label, to_micros(t)).await?;
        for id in std::iter::once(survivor.id).chain(restored.iter().map(|l| l.id)) {
            crate::scoring::score_lead_in(&mut tx, id, "unmerged").await?;
        }
        audit(
            &mut tx,
            by,
            "lead.unmerged",
            "lead",
            Some(survivor.id),
            json!({ "merge_id": merge_id, "restored": restored.iter().map(|l| l.id).collect::<Vec<_>>(), "kept_fields": kept_fields }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(merge_id = %merge_id, survivor = %survivor.id, "merge undone");
        Ok(Unmerged {
            survivor,
            restored,
            kept_fields,
        })
    }

    /// Merges, newest first; `lead` narrows them to one survivor's. `before` is the last
    /// merge of the previous page.
    pub async fn merges(
        &self,
        by: &Principal,
        lead: Option<Uuid>,
        before: Option<Uuid>,
        limit: i64,
    ) -> AppResult<Vec<MergeRecord>> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        let cursor = match before {
            Some(id) => store::get(c.conn(), id).await?.map(|r| (r.merged_at, r.id)),
            None => None,
        };
        let rows = store::list(c.conn(), lead, cursor, limit.clamp(1, 200)).await?;
        Ok(rows.iter().map(record).collect())
    }

    /// One merge.
    pub async fn merge_record(&self, by: &Principal, id: Uuid) -> AppResult<MergeRecord> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        let row = store::get(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("merge"))?;
        Ok(record(&row))
    }

    /// The survivor a deleted lead was merged into, if it was (for a link from the old id).
    pub async fn merged_into(&self, id: Uuid) -> AppResult<Option<(Uuid, Uuid)>> {
        let mut c = self.db.acquire().await?;
        Ok(store::merged_into(c.conn(), id).await?)
    }

    /// Merges every open pair at or above `min_confidence` (at least 0.9), the older lead
    /// surviving, by the survivorship rule. Pairs whose leads were merged meanwhile are
    /// skipped. Returns how many merges were made.
    pub async fn merge_all(&self, by: &Principal, min_confidence: f64) -> AppResult<usize> {
        may_review(by)?;
        if !(0.9..=1.0).contains(&min_confidence) {
            return Err(invalid(
                "min_confidence",
                "out_of_range",
                "bulk merges need a confidence of at least 0.9",
            ));
        }
        let mut done = 0;
        let mut after = None;
        loop {
            let page = self.duplicate_pairs(by, min_confidence, after, 200).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.confidence, last.a.min(last.b), last.a.max(last.b)));
            for p in page {
                let input = MergeInput {
                    survivor_id: p.a,
                    merged_ids: vec![p.b],
                    fields: BTreeMap::new(),
                };
                match self.merge_leads(by, input).await {
                    Ok(_) => done += 1,
                    // Gone or changed since the list was read: left for the next run.
                    Err(AppError::NotFound(_) | AppError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(done)
    }
}
