//! Administration: users, teams, custom field definitions, and the audit trail helper.

use crate::App;
use crate::auth::{hash_password, require_admin};
use crate::error::{AppError, AppResult, invalid, taken};
use leadline_domain::account::{AuditEntry, Team, User};
use leadline_domain::custom_field::NewCustomField;
use leadline_domain::time::now;
use leadline_domain::{CustomFieldDef, Principal, Role};
use leadline_store::{DbTx, audit as audit_store, custom_fields, sessions, teams, users};
use serde::Deserialize;
use uuid::Uuid;

/// Appends an audit entry inside the caller's transaction.
pub async fn audit(
    tx: &mut DbTx,
    by: &Principal,
    action: &str,
    entity_type: &str,
    entity_id: Option<Uuid>,
    changes: serde_json::Value,
) -> AppResult<()> {
    let entry = AuditEntry {
        id: Uuid::now_v7(),
        actor: by.label.clone(),
        action: action.to_owned(),
        entity_type: entity_type.to_owned(),
        entity_id,
        changes,
        at: now(),
    };
    audit_store::insert(tx.conn(), &entry, by.user_id, by.api_key_id).await?;
    Ok(())
}

/// Input to create a user.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// At least 10 characters. Without one the user cannot sign in until a password is set.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub sees_all_leads: bool,
}

/// Changes to a user; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub sees_all_leads: Option<bool>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

/// Changes to a custom field definition; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldUpdate {
    pub label: Option<String>,
    pub options: Option<Vec<String>>,
}

/// Input to create or change a team.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    #[serde(default)]
    pub members: Vec<Uuid>,
}

impl App {
    /// Creates a user. Admins only (the CLI acts as the system principal).
    pub async fn create_user(&self, by: &Principal, input: NewUser) -> AppResult<User> {
        require_admin(by)?;
        let mut e = leadline_domain::ValidationErrors::default();
        let email = input.email.trim().to_lowercase();
        if !email_address_ok(&email) {
            e.add("email", "invalid_email", "is not a valid email address");
        }
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            e.add("name", "invalid_name", "must be 1 to 100 characters");
        }
        e.into_result()?;
        let hash = match &input.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let user = User {
            id: Uuid::now_v7(),
            email,
            name,
            role: input.role,
            sees_all_leads: input.sees_all_leads,
            active: true,
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        users::insert(tx.conn(), &user, hash.as_deref())
            .await
            .map_err(taken("email", "a user with this email exists"))?;
        audit(
            &mut tx,
            by,
            "user.created",
            "user",
            Some(user.id),
            serde_json::json!({"email": user.email, "role": user.role}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes a user. Deactivating or changing the password ends their sessions.
    pub async fn update_user(
        &self,
        by: &Principal,
        id: Uuid,
        input: UserUpdate,
    ) -> AppResult<User> {
        require_admin(by)?;
        let hash = match &input.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let mut tx = self.db.begin().await?;
        let mut user = users::get(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if let Some(n) = input.name {
            let n = n.trim().to_owned();
            if n.is_empty() || n.chars().count() > 100 {
                return Err(invalid(
                    "name",
                    "invalid_name",
                    "must be 1 to 100 characters",
                ));
            }
            user.name = n;
        }
        if let Some(r) = input.role {
            if by.user_id == Some(id) && r != Role::Admin {
                return Err(invalid(
                    "role",
                    "self_demotion",
                    "you cannot remove your own admin role",
                ));
            }
            user.role = r;
        }
        if let Some(s) = input.sees_all_leads {
            user.sees_all_leads = s;
        }
        if let Some(a) = input.active {
            if by.user_id == Some(id) && !a {
                return Err(invalid(
                    "active",
                    "self_deactivation",
                    "you cannot deactivate yourself",
                ));
            }
            user.active = a;
        }
        users::update(tx.conn(), &user).await?;
        if let Some(h) = &hash {
            users::set_password(tx.conn(), id, h).await?;
        }
        if hash.is_some() || !user.active {
            sessions::delete_for_user(tx.conn(), id).await?;
        }
        audit(&mut tx, by, "user.updated", "user", Some(id), serde_json::json!({
            "role": user.role, "active": user.active, "sees_all_leads": user.sees_all_leads, "password_changed": hash.is_some()
        }))
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Every user. Any signed-in principal may list users (to pick owners).
    pub async fn list_users(&self) -> AppResult<Vec<User>> {
        let mut c = self.db.acquire().await?;
        Ok(users::list(c.conn()).await?)
    }

    /// True when no user exists yet (first start).
    pub async fn has_no_users(&self) -> AppResult<bool> {
        let mut c = self.db.acquire().await?;
        Ok(users::count(c.conn()).await? == 0)
    }

    /// Every team.
    pub async fn list_teams(&self) -> AppResult<Vec<Team>> {
        let mut c = self.db.acquire().await?;
        Ok(teams::list(c.conn()).await?)
    }

    /// Creates a team with members.
    pub async fn create_team(&self, by: &Principal, input: TeamInput) -> AppResult<Team> {
        require_admin(by)?;
        let name = team_name(&input.name)?;
        let team = Team {
            id: Uuid::now_v7(),
            name,
            members: dedup(input.members),
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        teams::insert(tx.conn(), &team)
            .await
            .map_err(taken("name", "a team with this name exists"))?;
        set_members(&mut tx, team.id, &team.members).await?;
        audit(
            &mut tx,
            by,
            "team.created",
            "team",
            Some(team.id),
            serde_json::json!({"name": team.name, "members": team.members}),
        )
        .await?;
        tx.commit().await?;
        Ok(team)
    }

    /// Renames a team and replaces its members.
    pub async fn update_team(&self, by: &Principal, id: Uuid, input: TeamInput) -> AppResult<Team> {
        require_admin(by)?;
        let name = team_name(&input.name)?;
        let members = dedup(input.members);
        let mut tx = self.db.begin().await?;
        let renamed = teams::rename(tx.conn(), id, &name)
            .await
            .map_err(taken("name", "a team with this name exists"))?;
        if !renamed {
            return Err(AppError::NotFound("team"));
        }
        set_members(&mut tx, id, &members).await?;
        audit(
            &mut tx,
            by,
            "team.updated",
            "team",
            Some(id),
            serde_json::json!({"name": name, "members": members}),
        )
        .await?;
        let team = teams::get(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("team"))?;
        tx.commit().await?;
        Ok(team)
    }

    /// Deletes a team.
    pub async fn delete_team(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        if !teams::delete(tx.conn(), id).await? {
            return Err(AppError::NotFound("team"));
        }
        audit(
            &mut tx,
            by,
            "team.deleted",
            "team",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every custom field definition.
    pub async fn custom_fields(&self) -> AppResult<Vec<CustomFieldDef>> {
        let mut c = self.db.acquire().await?;
        Ok(custom_fields::list(c.conn()).await?)
    }

    /// Defines a custom field.
    pub async fn create_custom_field(
        &self,
        by: &Principal,
        input: NewCustomField,
    ) -> AppResult<CustomFieldDef> {
        require_admin(by)?;
        input.validate()?;
        if leadline_domain::LeadFields::NAMES.contains(&input.key.as_str()) {
            return Err(invalid(
                "key",
                "reserved",
                "is the name of a built-in lead field",
            ));
        }
        let def = CustomFieldDef {
            id: Uuid::now_v7(),
            key: input.key,
            label: input.label.trim().to_owned(),
            kind: input.kind,
            options: input.options.iter().map(|o| o.trim().to_owned()).collect(),
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        custom_fields::insert(tx.conn(), &def)
            .await
            .map_err(taken("key", "a custom field with this key exists"))?;
        audit(
            &mut tx,
            by,
            "custom_field.created",
            "custom_field",
            Some(def.id),
            serde_json::json!({"key": def.key, "kind": def.kind}),
        )
        .await?;
        tx.commit().await?;
        Ok(def)
    }

    /// Changes a definition's label and options (key and kind are fixed once created, so
    /// stored values keep their meaning). Options in use may be removed: values already on
    /// leads stay until edited.
    pub async fn update_custom_field(
        &self,
        by: &Principal,
        id: Uuid,
        input: CustomFieldUpdate,
    ) -> AppResult<CustomFieldDef> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        let mut def = custom_fields::list(tx.conn())
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(AppError::NotFound("custom field"))?;
        let check = NewCustomField {
            key: def.key.clone(),
            label: input.label.unwrap_or_else(|| def.label.clone()),
            kind: def.kind,
            options: input.options.unwrap_or_else(|| def.options.clone()),
        };
        check.validate()?;
        def.label = check.label.trim().to_owned();
        def.options = check.options.iter().map(|o| o.trim().to_owned()).collect();
        custom_fields::update(tx.conn(), id, &def.label, &def.options).await?;
        audit(
            &mut tx,
            by,
            "custom_field.updated",
            "custom_field",
            Some(id),
            serde_json::json!({"label": def.label, "options": def.options}),
        )
        .await?;
        tx.commit().await?;
        Ok(def)
    }

    /// Deletes a custom field definition.
    pub async fn delete_custom_field(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        if !custom_fields::delete(tx.conn(), id).await? {
            return Err(AppError::NotFound("custom field"));
        }
        audit(
            &mut tx,
            by,
            "custom_field.deleted",
            "custom_field",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn set_members(tx: &mut DbTx, team: Uuid, members: &[Uuid]) -> AppResult<()> {
    for m in members {
        if users::get(tx.conn(), *m).await?.is_none() {
            return Err(invalid(
                "members",
                "unknown_user",
                format!("no user with id {m}"),
            ));
        }
    }
    teams::set_members(tx.conn(), team, members).await?;
    Ok(())
}

fn team_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(invalid(
            "name",
            "invalid_name",
            "must be 1 to 100 characters",
        ));
    }
    Ok(n.to_owned())
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

fn email_address_ok(email: &str) -> bool {
    // The same rule as lead emails: RFC 5322 address syntax.
    leadline_domain::LeadFields {
        email: Some(email.to_owned()),
        ..Default::default()
    }
    .clean(&[])
    .is_ok()
}
