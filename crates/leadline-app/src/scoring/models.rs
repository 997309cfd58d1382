//! Scoring models: versions saved, diffed, activated and rolled back, files in and out.

use super::{DEFAULT_MODEL, active_models, ensure_models};
use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::Principal;
use leadline_domain::scoring::rules::{ModelDefinition, ModelFile};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_store::scoring::{self as store, ModelRow, VersionRow};
use serde::Serialize;
use serde_json::json;

/// A model as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    pub key: String,
    pub name: String,
    pub is_default: bool,
    /// The version in force.
    pub active_version: Option<i32>,
    /// The newest saved version (above the active one: a draft waits).
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
}

/// One line of a diff between two versions' rules files.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffLine {
    /// `same`, `added` or `removed`.
    pub change: &'static str,
    pub text: String,
}

/// One saved version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    pub version: i32,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub active: bool,
    pub definition: ModelDefinition,
}

pub(crate) fn may_manage(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "managing scoring models")
}

fn definition(v: &VersionRow) -> AppResult<ModelDefinition> {
    serde_json::from_value(v.definition.0.clone()).map_err(|e| {
        AppError::Internal(format!(
            "stored scoring model {} v{}: {e}",
            v.model_key, v.version
        ))
    })
}

fn summary(v: &VersionRow, active: Option<i32>) -> AppResult<VersionSummary> {
    Ok(VersionSummary {
        version: v.version,
        note: v.note.clone(),
        created_by: v.created_by.clone(),
        created_at: from_micros(v.created_at),
        activated_at: v.activated_at.map(from_micros),
        active: active == Some(v.version),
        definition: definition(v)?,
    })
}

fn valid_key(key: &str) -> AppResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid("key", "invalid_key", "1-64 of a-z, 0-9, - and _"))
    }
}

impl App {
    /// Every scoring model (the starter model is created on first use).
    pub async fn scoring_models(&self, _by: &Principal) -> AppResult<Vec<ModelSummary>> {
        let mut tx = self.db.begin().await?;
        ensure_models(&mut tx, "system").await?;
        let mut out = Vec::new();
        for m in store::models(tx.conn()).await? {
            let versions = store::versions(tx.conn(), &m.key).await?;
            let Some(latest) = versions.first() else {
                continue;
            };
            let shown = m
                .active_version
                .and_then(|a| versions.iter().find(|v| v.version == a))
                .unwrap_or(latest);
            out.push(ModelSummary {
                name: definition(shown)?.name,
                key: m.key.clone(),
                is_default: m.is_default,
                active_version: m.active_version,
                latest_version: latest.version,
                created_at: from_micros(m.created_at),
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A model's versions, newest first.
    pub async fn scoring_versions(
        &self,
        _by: &Principal,
        key: &str,
    ) -> AppResult<Vec<VersionSummary>> {
        let mut tx = self.db.begin().await?;
        ensure_models(&mut tx, "system").await?;
        let m = store::model(tx.conn(), key)
            .await?
            .ok_or(AppError::NotFound("scoring model"))?;
        let out = store::versions(tx.conn(), key)
            .await?
            .iter()
            .map(|v| summary(v, m.active_version))
            .collect::<AppResult<Vec<_>>>()?;
        tx.commit().await?;
        Ok(out)
    }

    /// One version of a model.
    pub async fn scoring_version(
        &self,
        by: &Principal,
        key: &str,
        version: i32,
    ) -> AppResult<VersionSummary> {
        self.scoring_versions(by, key)
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(AppError::NotFound("scoring model version"))
    }

    /// Saves a new version of a model (creating the model on its first version). Nothing
    /// changes for leads until it is activated; an invalid definition is refused and the
    /// rules in force stay.
    pub async fn save_scoring_version(
        &self,
        by: &Principal,
        key: &str,
        def: ModelDefinition,
        note: Option<String>,
    ) -> AppResult<VersionSummary> {
        may_manage(by)?;
        valid_key(key)?;
        let defs = self.custom_fields().await?;
        def.validate(&defs)?;
        let value = serde_json::to_value(&def).map_err(|e| AppError::Internal(e.to_string()))?;
        let note = note
            .map(|n| n.trim().chars().take(500).collect::<String>())
            .filter(|n| !n.is_empty());
        let t = to_micros(now());
        let mut tx = self.db.begin().await?;
        ensure_models(&mut tx, &by.label).await?;
        let existing = store::model(tx.conn(), key).await?;
        if existing.is_none() {
            store::insert_model(
                tx.conn(),
                &ModelRow {
                    key: key.into(),
                    is_default: false,
                    active_version: None,
                    created_at: t,
                },
            )
            .await?;
        }
        let v =
            store::insert_version(tx.conn(), key, &value, note.as_deref(), &by.label, t).await?;
        audit(
            &mut tx,
            by,
            "scoring.version_saved",
            "scoring_model",
            None,
            json!({ "model": key, "version": v }),
        )
        .await?;
        let row = store::version(tx.conn(), key, v)
            .await?
            .ok_or(AppError::NotFound("scoring model version"))?;
        let active = existing.and_then(|m| m.active_version);
        tx.commit().await?;
        summary(&row, active)
    }

    /// Puts a version in force (also an older one: a roll-back) and starts a full
    /// re-score of every lead under it in the background. Returns the job.
    pub async fn activate_scoring_version(
        &self,
        by: &Principal,
        key: &str,
        version: i32,
    ) -> AppResult<super::ScoringJob> {
        self.put_scoring_version_in_force(by, key, version).await?;
        self.start_rescore(by, key).await
    }

    /// Puts a version in force without re-scoring (the caller re-scores, as the CLI does in
    /// the foreground).
    pub async fn put_scoring_version_in_force(
        &self,
        by: &Principal,
        key: &str,
        version: i32,
    ) -> AppResult<()> {
        may_manage(by)?;
        let mut tx = self.db.begin().await?;
        ensure_models(&mut tx, &by.label).await?;
        store::version(tx.conn(), key, version)
            .await?
            .ok_or(AppError::NotFound("scoring model version"))?;
        store::activate(tx.conn(), key, version, to_micros(now())).await?;
        audit(
            &mut tx,
            by,
            "scoring.version_activated",
            "scoring_model",
            None,
            json!({ "model": key, "version": version }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a model the default: its score and grade show on every lead and drive
    /// qualification.
    pub async fn set_default_scoring_model(&self, by: &Principal, key: &str) -> AppResult<()> {
        may_manage(by)?;
        let mut tx = self.db.begin().await?;
        ensure_models(&mut tx, &by.label).await?;
        let m = store::model(tx.conn(), key)
            .await?
            .ok_or(AppError::NotFound("scoring model"))?;
        if m.active_version.is_none() {
            return Err(AppError::Conflict(
                "activate a version of this model before making it the default".into(),
            ));
        }
        store::set_default(tx.conn(), key).await?;
        audit(
            &mut tx,
            by,
            "scoring.default_set",
            "scoring_model",
            None,
            json!({ "model": key }),
        )
        .await?;
        tx.commit().await?;
        self.start_rescore(by, key).await.map(|_| ())
    }

    /// A model's version in force (or a given version) as a TOML or YAML file.
    pub async fn export_scoring_model(
        &self,
        by: &Principal,
        key: &str,
        version: Option<i32>,
        yaml: bool,
    ) -> AppResult<String> {
        let versions = self.scoring_versions(by, key).await?;
        let v = match version {
            Some(n) => versions.into_iter().find(|v| v.version == n),
            None => versions.into_iter().find(|v| v.active),
        }
        .ok_or(AppError::NotFound("scoring model version"))?;
        let file = ModelFile {
            key: key.into(),
            definition: v.definition,
        };
        Ok(if yaml { file.to_yaml() } else { file.to_toml() })
    }

    /// The difference between two versions of a model, as lines of their TOML files.
    pub async fn scoring_diff(
        &self,
        by: &Principal,
        key: &str,
        from: i32,
        to: i32,
    ) -> AppResult<Vec<DiffLine>> {
        let a = self
            .export_scoring_model(by, key, Some(from), false)
            .await?;
        let b = self.export_scoring_model(by, key, Some(to), false).await?;
        Ok(similar::TextDiff::from_lines(&a, &b)
            .iter_all_changes()
            .map(|c| DiffLine {
                change: match c.tag() {
                    similar::ChangeTag::Equal => "same",
                    similar::ChangeTag::Insert => "added",
                    similar::ChangeTag::Delete => "removed",
                },
                text: c.value().trim_end_matches('\n').to_owned(),
            })
            .collect())
    }

    /// Reads a TOML or YAML rules file and saves it as a new version of the model it names
    /// (not yet active).
    pub async fn import_scoring_model(
        &self,
        by: &Principal,
        text: &str,
        yaml: bool,
        note: Option<String>,
    ) -> AppResult<VersionSummary> {
        may_manage(by)?;
        let file = if yaml {
            ModelFile::from_yaml(text)
        } else {
            ModelFile::from_toml(text)
        }
        .map_err(|e| invalid("file", "unreadable", e.to_string()))?;
        self.save_scoring_version(by, &file.key, file.definition, note)
            .await
    }

    /// The definition of the default model in force.
    pub async fn default_scoring_model(&self) -> AppResult<ModelDefinition> {
        let mut tx = self.db.begin().await?;
        let models = active_models(&mut tx).await?;
        tx.commit().await?;
        models
            .into_iter()
            .find(|m| m.row.is_default || m.row.key == DEFAULT_MODEL)
            .map(|m| m.scorer.model.clone())
            .ok_or(AppError::NotFound("scoring model"))
    }
}
