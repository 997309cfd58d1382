//! Accounts: the companies leads belong to. A new lead links to the account of its company
//! email domain at capture; creating an account links the existing leads at its domain.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, invalid, taken};
use leadline_domain::Principal;
use leadline_domain::customer_account::{Account, AccountInput};
use leadline_domain::time::{now, to_micros};
use leadline_store::{DbTx, accounts as store, users};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// A lead's account and how the link was made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadAccount {
    pub account: Account,
    /// `domain` (matched by the company email domain) or `manual`.
    pub matched_by: String,
}

/// An account with its number of live leads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountSummary {
    #[serde(flatten)]
    pub account: Account,
    pub leads: i64,
}

const DOMAIN_TAKEN: &str = "another account has this domain";

fn may_manage(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "managing accounts")
}

async fn check_owner(tx: &mut DbTx, owner: Option<Uuid>) -> AppResult<()> {
    if let Some(o) = owner {
        match users::get(tx.conn(), o).await? {
            Some(u) if u.active => {}
            _ => {
                return Err(invalid(
                    "owner_id",
                    "unknown_user",
                    "no active user with this id",
                ));
            }
        }
    }
    Ok(())
}

impl App {
    /// Accounts by name; `after` is the last name of the previous page.
    pub async fn accounts(
        &self,
        _by: &Principal,
        after: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<AccountSummary>> {
        let mut c = self.db.acquire().await?;
        let list = store::list(c.conn(), after, limit.clamp(1, 500)).await?;
        let mut out = Vec::with_capacity(list.len());
        for account in list {
            let leads = store::lead_count(c.conn(), account.id).await?;
            out.push(AccountSummary { account, leads });
        }
        Ok(out)
    }

    /// One account.
    pub async fn account(&self, _by: &Principal, id: Uuid) -> AppResult<AccountSummary> {
        let mut c = self.db.acquire().await?;
        let account = store::get(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let leads = store::lead_count(c.conn(), id).await?;
        Ok(AccountSummary { account, leads })
    }

    /// Creates an account and links the live leads with an email at its domain.
    pub async fn create_account(
        &self,
        by: &Principal,
        input: AccountInput,
    ) -> AppResult<AccountSummary> {
        may_manage(by)?;
        let input = input.clean()?;
        let t = now();
        let a = Account {
            id: Uuid::now_v7(),
            name: input.name,
            domain: input.domain,
            industry: input.industry,
            owner_id: input.owner_id,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.db.begin().await?;
        check_owner(&mut tx, a.owner_id).await?;
        store::insert(tx.conn(), &a)
            .await
            .map_err(taken("domain", DOMAIN_TAKEN))?;
        let linked = match &a.domain {
            Some(d) => store::link_by_email_domain(tx.conn(), a.id, d, to_micros(t)).await?,
            None => 0,
        };
        audit(
            &mut tx,
            by,
            "account.created",
            "account",
            Some(a.id),
            json!({ "name": a.name, "domain": a.domain, "leads_linked": linked }),
        )
        .await?;
        tx.commit().await?;
        Ok(AccountSummary {
            account: a,
            leads: linked as i64,
        })
    }

    /// Replaces an account's name, domain, industry and owner.
    pub async fn update_account(
        &self,
        by: &Principal,
        id: Uuid,
        input: AccountInput,
    ) -> AppResult<AccountSummary> {
        may_manage(by)?;
        let input = input.clean()?;
        let mut tx = self.db.begin().await?;
        let current = store::get(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        check_owner(&mut tx, input.owner_id).await?;
        let a = Account {
            name: input.name,
            domain: input.domain,
            industry: input.industry,
            owner_id: input.owner_id,
            updated_at: now(),
            ..current
        };
        store::update(tx.conn(), &a)
            .await
            .map_err(taken("domain", DOMAIN_TAKEN))?;
        if let Some(d) = &a.domain {
            store::link_by_email_domain(tx.conn(), a.id, d, to_micros(a.updated_at)).await?;
        }
        audit(
            &mut tx,
            by,
            "account.updated",
            "account",
            Some(id),
            json!({ "name": a.name, "domain": a.domain }),
        )
        .await?;
        let leads = store::lead_count(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(AccountSummary { account: a, leads })
    }

    /// Deletes an account; its leads stay, unlinked.
    pub async fn delete_account(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        may_manage(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete(tx.conn(), id).await? {
            return Err(AppError::NotFound("account"));
        }
        audit(
            &mut tx,
            by,
            "account.deleted",
            "account",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account a lead belongs to.
    pub async fn lead_account(&self, by: &Principal, lead: Uuid) -> AppResult<Option<LeadAccount>> {
        self.get_lead(by, lead).await?;
        let mut c = self.db.acquire().await?;
        Ok(store::of_lead(c.conn(), lead)
            .await?
            .map(|(account, matched_by)| LeadAccount {
                account,
                matched_by,
            }))
    }

    /// Links a lead to an account by hand, or unlinks it (`None`).
    pub async fn set_lead_account(
        &self,
        by: &Principal,
        lead: Uuid,
        account: Option<Uuid>,
    ) -> AppResult<Option<LeadAccount>> {
        let current = self.get_lead(by, lead).await?;
        if !by.can_edit_lead(current.fields.owner_id) {
            return Err(AppError::Forbidden("you may not change this lead".into()));
        }
        let mut tx = self.db.begin().await?;
        let out = match account {
            Some(a) => {
                let acc = store::get(tx.conn(), a).await?.ok_or_else(|| {
                    invalid("account_id", "unknown_account", "no account with this id")
                })?;
                store::link_lead(tx.conn(), lead, a, "manual", to_micros(now())).await?;
                Some(LeadAccount {
                    account: acc,
                    matched_by: "manual".into(),
                })
            }
            None => {
                store::unlink_lead(tx.conn(), lead).await?;
                None
            }
        };
        audit(
            &mut tx,
            by,
            "lead.account_set",
            "lead",
            Some(lead),
            json!({ "account_id": account }),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}
