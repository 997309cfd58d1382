//! Roles and the permission rules that follow from them.

use crate::stage::UnknownValue;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// What a user or API key is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, teams, API keys and custom fields.
    Admin,
    /// All leads, assignment, teams' work; no user or key management.
    Manager,
    /// All leads, imports, campaigns and scoring; no user management.
    Marketer,
    /// Their own and unassigned leads, unless granted all leads.
    Rep,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Marketer, Role::Rep];

    /// The stable name used in the API, CLI and database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Marketer => "marketer",
            Role::Rep => "rep",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownValue::new("role", s, Role::ALL.iter().map(|r| r.as_str())))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting: a signed-in user, an API key, or the system itself (CLI, jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The acting user, if any (an API key may belong to a user).
    pub user_id: Option<Uuid>,
    /// The API key used, if any.
    pub api_key_id: Option<Uuid>,
    /// The effective role.
    pub role: Role,
    /// A rep granted visibility of every lead.
    pub sees_all_leads: bool,
    /// A short label for audit trails ("ana@example.com", "key:zapier", "system").
    pub label: String,
}

impl Principal {
    /// The system acting on its own (CLI commands, background jobs): full rights.
    pub fn system(label: &str) -> Self {
        Principal {
            user_id: None,
            api_key_id: None,
            role: Role::Admin,
            sees_all_leads: true,
            label: label.to_owned(),
        }
    }

    /// True when the principal may see every lead, not only their own and unassigned ones.
    pub fn sees_all(&self) -> bool {
        self.role != Role::Rep || self.sees_all_leads
    }

    /// True when a lead with this owner is visible to the principal.
    pub fn can_see_lead(&self, owner: Option<Uuid>) -> bool {
        self.sees_all() || owner.is_none() || owner == self.user_id
    }

    /// Reps may edit the leads they can see; every other role may edit every lead.
    pub fn can_edit_lead(&self, owner: Option<Uuid>) -> bool {
        self.can_see_lead(owner)
    }

    /// Whether the principal may give a lead to `new_owner`. Reps may only take an
    /// unassigned lead for themselves or give their own back; managers and up may assign
    /// freely.
    pub fn can_assign(&self, current: Option<Uuid>, new_owner: Option<Uuid>) -> bool {
        match self.role {
            Role::Admin | Role::Manager | Role::Marketer => true,
            Role::Rep => {
                let me = self.user_id;
                me.is_some()
                    && ((current.is_none() && new_owner == me)
                        || (current == me && new_owner.is_none()))
            }
        }
    }

    /// Users, teams, API keys and custom field definitions.
    pub fn can_administer(&self) -> bool {
        self.role == Role::Admin
    }

    /// Deleting leads is for admins and managers.
    pub fn can_delete_leads(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Manager)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(id: Uuid) -> Principal {
        Principal {
            user_id: Some(id),
            api_key_id: None,
            role: Role::Rep,
            sees_all_leads: false,
            label: "rep".into(),
        }
    }

    #[test]
    fn a_rep_sees_own_and_unassigned_leads_only() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let p = rep(me);
        assert!(p.can_see_lead(Some(me)));
        assert!(p.can_see_lead(None));
        assert!(!p.can_see_lead(Some(other)));
        let granted = Principal {
            sees_all_leads: true,
            ..p
        };
        assert!(granted.can_see_lead(Some(other)));
    }

    #[test]
    fn a_rep_may_claim_or_release_but_not_give_away() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let p = rep(me);
        assert!(p.can_assign(None, Some(me)));
        assert!(p.can_assign(Some(me), None));
        assert!(!p.can_assign(Some(me), Some(other)));
        assert!(!p.can_assign(None, Some(other)));
        assert!(!p.can_assign(Some(other), Some(me)));
    }

    #[test]
    fn only_admins_administer() {
        for role in Role::ALL {
            let p = Principal {
                role,
                ..Principal::system("t")
            };
            assert_eq!(p.can_administer(), role == Role::Admin);
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }
}
