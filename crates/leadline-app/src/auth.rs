//! Sign-in, sessions and API keys: turning a credential into a [`Principal`].

use crate::App;
use crate::error::{AppError, AppResult, invalid};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadline_domain::account::{ApiKey, User};
use leadline_domain::sign_in::Verdict;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{Principal, Role};
use leadline_store::{api_keys, sessions, sign_in_failures, users};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

/// Prefix of every API key, so leaked keys are easy to recognise in code and logs.
pub const API_KEY_PREFIX: &str = "ll_";

/// Minimum password length (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 10;

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, hex. Keys and session tokens are high-entropy, so a fast hash is
/// enough and lookups stay indexable.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with Argon2id (off the async threads: it is deliberately slow).
pub async fn hash_password(password: &str) -> AppResult<String> {
    check_password_policy(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

fn check_password_policy(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            "too_short",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(invalid(
            "password",
            "too_long",
            "must be at most 1024 bytes",
        ));
    }
    Ok(())
}

async fn verify_password(password: &str, hash: Option<String>) -> bool {
    // Without a stored hash still do the work, so timing does not reveal which emails exist.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = password.to_owned();
    let has_hash = hash.is_some();
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::encode_b64(b"leadline-dummy-salt")
                        .expect("static salt is valid");
                    Argon2::default()
                        .hash_password(b"not a password", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
        && has_hash
}

fn principal_for_user(u: &User) -> Principal {
    Principal {
        user_id: Some(u.id),
        api_key_id: None,
        role: u.role,
        sees_all_leads: u.sees_all_leads,
        label: u.email.clone(),
    }
}

/// A new session: the cookie value to hand to the browser, and who signed in.
pub struct NewSession {
    pub token: String,
    pub user: User,
}

impl App {
    /// Checks email and password; on success opens a session. `address` is the client's,
    /// for the throttle: after too many recent failures for the account or from the address
    /// the attempt is refused before the password is looked at.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> AppResult<NewSession> {
        let account = token_hash(&email.trim().to_lowercase());
        let address = token_hash(&address.map(|a| a.to_string()).unwrap_or_default());
        let throttle = self.config.sign_in;
        let t = to_micros(now());
        let mut c = self.db.acquire().await?;
        let (by_account, by_address) = sign_in_failures::recent(
            c.conn(),
            &account,
            &address,
            t - throttle.window,
            throttle.read_limit(),
        )
        .await?;
        if let Verdict::Refuse { retry_after } = throttle.verdict(t, &by_account, &by_address) {
            tracing::warn!("sign-in refused: too many recent failures");
            return Err(AppError::Throttled {
                retry_after_secs: (retry_after as u64).div_ceil(1_000_000),
            });
        }
        let found = users::by_email_with_hash(c.conn(), email).await?;
        drop(c);
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), h),
            None => (None, None),
        };
        let ok = verify_password(password, hash).await;
        let user = match user {
            Some(u) if ok && u.active => u,
            other => {
                let mut tx = self.db.begin().await?;
                sign_in_failures::purge(tx.conn(), t - 24 * 3600 * 1_000_000).await?;
                sign_in_failures::record(tx.conn(), &account, &address, t).await?;
                tx.commit().await?;
                match other {
                    Some(u) => tracing::info!(user_id = %u.id, "sign-in failed"),
                    None => tracing::info!("sign-in failed for an unknown email"),
                }
                return Err(AppError::Unauthenticated);
            }
        };
        let token = random_token();
        let mut tx = self.db.begin().await?;
        sign_in_failures::clear_account(tx.conn(), &account).await?;
        sessions::purge_expired(tx.conn(), t).await?;
        sessions::insert(
            tx.conn(),
            &token_hash(&token),
            user.id,
            t,
            t + self.config.session_absolute.as_micros() as i64,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, "signed in");
        Ok(NewSession { token, user })
    }

    /// Resolves a session cookie to its principal and moves the idle clock.
    pub async fn session_principal(&self, token: &str) -> AppResult<(Principal, User)> {
        let hash = token_hash(token);
        let t = to_micros(now());
        let mut c = self.db.acquire().await?;
        let (user_id, last_seen) = sessions::user_for(
            c.conn(),
            &hash,
            t,
            self.config.session_idle.as_micros() as i64,
        )
        .await?
        .ok_or(AppError::Unauthenticated)?;
        let user = users::get(c.conn(), user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(AppError::Unauthenticated)?;
        drop(c);
        // Write the idle clock at most once a minute: most requests are reads.
        if t - last_seen > 60_000_000 {
            let mut tx = self.db.begin().await?;
            sessions::touch(tx.conn(), &hash, t).await?;
            tx.commit().await?;
        }
        Ok((principal_for_user(&user), user))
    }

    /// Ends every session of a user (sign out everywhere).
    pub async fn logout_everywhere(&self, user_id: Uuid) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        sessions::delete_for_user(tx.conn(), user_id).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user_id, "signed out everywhere");
        Ok(())
    }

    /// Ends one session.
    pub async fn logout(&self, token: &str) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        sessions::delete(tx.conn(), &token_hash(token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolves a bearer API key to its principal.
    pub async fn api_key_principal(&self, key: &str) -> AppResult<Principal> {
        if !key.starts_with(API_KEY_PREFIX) || key.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let mut c = self.db.acquire().await?;
        let k = api_keys::by_hash(c.conn(), &token_hash(key))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let user = match k.user_id {
            Some(id) => Some(
                users::get(c.conn(), id)
                    .await?
                    .filter(|u| u.active)
                    .ok_or(AppError::Unauthenticated)?,
            ),
            None => None,
        };
        drop(c);
        let t = to_micros(now());
        if k.last_used_at.is_none_or(|u| t - to_micros(u) > 60_000_000) {
            let mut tx = self.db.begin().await?;
            api_keys::touch(tx.conn(), k.id, t).await?;
            tx.commit().await?;
        }
        Ok(Principal {
            user_id: k.user_id,
            api_key_id: Some(k.id),
            role: k.role,
            sees_all_leads: user.as_ref().is_some_and(|u| u.sees_all_leads),
            label: format!("key:{}", k.name),
        })
    }

    /// Creates an API key; the returned secret is shown once and never stored.
    pub async fn create_api_key(
        &self,
        by: &Principal,
        name: &str,
        role: Role,
        user_id: Option<Uuid>,
    ) -> AppResult<(ApiKey, String)> {
        require_admin(by)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(invalid(
                "name",
                "invalid_name",
                "must be 1 to 100 characters",
            ));
        }
        let secret = format!("{API_KEY_PREFIX}{}", random_token());
        let key = ApiKey {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            role,
            user_id,
            prefix: secret.chars().take(10).collect(),
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.db.begin().await?;
        if let Some(u) = user_id
            && users::get(tx.conn(), u).await?.is_none()
        {
            return Err(invalid("user_id", "unknown_user", "no user with this id"));
        }
        api_keys::insert(tx.conn(), &key, &token_hash(&secret)).await?;
        crate::admin::audit(
            &mut tx,
            by,
            "api_key.created",
            "api_key",
            Some(key.id),
            serde_json::json!({"name": key.name, "role": role}),
        )
        .await?;
        tx.commit().await?;
        Ok((key, secret))
    }

    /// Revokes a key; requests with it fail from the next one on.
    pub async fn revoke_api_key(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        if !api_keys::revoke(tx.conn(), id, to_micros(now())).await? {
            return Err(AppError::NotFound("api key"));
        }
        crate::admin::audit(
            &mut tx,
            by,
            "api_key.revoked",
            "api_key",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every API key (metadata only).
    pub async fn list_api_keys(&self, by: &Principal) -> AppResult<Vec<ApiKey>> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        Ok(api_keys::list(c.conn()).await?)
    }
}

/// Refuses reps: marketing work (capture, imports, forms, sources, reviews) is for
/// admins, managers and marketers. `what` names the work in the message.
pub fn require_marketing(p: &Principal, what: &str) -> AppResult<()> {
    if p.role == leadline_domain::Role::Rep {
        return Err(AppError::Forbidden(format!(
            "{what} is for admins, managers and marketers"
        )));
    }
    Ok(())
}

/// Refuses everyone but admins and managers: sales set-up (routing, SLA policies, the
/// pipeline) and the boards. `what` names the work in the message.
pub fn require_manager(p: &Principal, what: &str) -> AppResult<()> {
    match p.role {
        leadline_domain::Role::Admin | leadline_domain::Role::Manager => Ok(()),
        _ => Err(AppError::Forbidden(format!(
            "{what} is for admins and managers"
        ))),
    }
}

/// Refuses anyone but an admin.
pub fn require_admin(p: &Principal) -> AppResult<()> {
    if p.can_administer() {
        Ok(())
    } else {
        Err(AppError::Forbidden("only admins may do this".into()))
    }
}
