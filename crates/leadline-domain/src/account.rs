//! People and credentials: users, teams, API keys, saved views, audit entries.

use crate::role::Role;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A person who signs in to Leadline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// A rep who may see every lead.
    pub sees_all_leads: bool,
    /// Deactivated users cannot sign in; their leads keep them as owner.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A group of users, e.g. a regional sales team.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    /// Member user ids.
    pub members: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed (the secret itself is shown only once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The user the key acts for, if any (reps' keys see that user's leads).
    pub user_id: Option<Uuid>,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A named lead-list query a user saved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The list's query string, e.g. `stage=mql&sort=-score`.
    pub query: String,
    pub created_at: DateTime<Utc>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    /// Who acted: a user's email, `key:<name>` or `system`.
    pub actor: String,
    /// What happened, e.g. `lead.updated`, `user.created`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    /// Field changes (old/new values) or other details.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub at: DateTime<Utc>,
}
