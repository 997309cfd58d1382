//! Stage and owner history records: who moved a lead where, when and why.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One stage change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// `null` when the lead was created.
    pub from_stage: Option<String>,
    pub to_stage: String,
    /// Disqualification reason, when moving to `disqualified`.
    pub reason: Option<String>,
    /// Free text from whoever made the change.
    pub note: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// One owner change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OwnerChange {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub from_owner: Option<Uuid>,
    pub to_owner: Option<Uuid>,
    /// Why, in words (for routing: the method and who was passed over).
    pub reason: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// The team queue the lead went to (routing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<Uuid>,
    /// The routing rule that chose, its method and the rule set's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_version: Option<i32>,
}
