//! Saved views: a user's named lead-list queries.

use crate::App;
use crate::error::{AppError, AppResult, invalid, taken};
use leadline_domain::Principal;
use leadline_domain::account::SavedView;
use leadline_domain::time::now;
use leadline_store::saved_views;
use uuid::Uuid;

impl App {
    /// Saves the current list query under a name. The query is validated first.
    pub async fn save_view(&self, by: &Principal, name: &str, query: &str) -> AppResult<SavedView> {
        let user_id = by
            .user_id
            .ok_or_else(|| AppError::Forbidden("saved views belong to users".into()))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid(
                "name",
                "invalid_name",
                "must be 1 to 80 characters",
            ));
        }
        let query = query.trim_start_matches('?');
        if query.len() > 2000 {
            return Err(invalid(
                "query",
                "too_long",
                "must be at most 2000 characters",
            ));
        }
        let pairs: Vec<(String, String)> = url_pairs(query)
            .into_iter()
            .filter(|(k, _)| k != "cursor")
            .collect();
        self.parse_lead_query(&pairs).await?;
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let view = SavedView {
            id: Uuid::now_v7(),
            user_id,
            name: name.to_owned(),
            query,
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        saved_views::insert(tx.conn(), &view)
            .await
            .map_err(taken("name", "you already have a view with this name"))?;
        tx.commit().await?;
        Ok(view)
    }

    /// The principal's saved views.
    pub async fn saved_views(&self, by: &Principal) -> AppResult<Vec<SavedView>> {
        let Some(user_id) = by.user_id else {
            return Ok(Vec::new());
        };
        let mut c = self.db.acquire().await?;
        Ok(saved_views::for_user(c.conn(), user_id).await?)
    }

    /// Deletes one of the principal's views.
    pub async fn delete_view(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        let user_id = by.user_id.ok_or(AppError::NotFound("view"))?;
        let mut tx = self.db.begin().await?;
        if !saved_views::delete(tx.conn(), user_id, id).await? {
            return Err(AppError::NotFound("view"));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Splits `a=1&b=2` into decoded pairs.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
