//! Accounts: the companies leads belong to (a lead links to the account of its company
//! email domain) and that converted leads become customers of.

use crate::ValidationErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A company.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    /// The registrable domain (`acme.com`); leads with an email at it link here.
    pub domain: Option<String>,
    pub industry: Option<String>,
    /// The account owner (account-based routing sends the account's leads to them).
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a person writes to create or change an account.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub name: String,
    /// A domain or website; stored as its registrable domain.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

impl AccountInput {
    /// Trims the values and reduces the domain to its registrable part.
    pub fn clean(self) -> Result<AccountInput, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            e.add("name", "required", "an account needs a name");
        } else if name.chars().count() > 255 {
            e.add("name", "too_long", "must be at most 255 characters");
        }
        let domain = match self
            .domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => None,
            Some(d) => match crate::quality::normalize::registrable_domain(d) {
                Some(r) => Some(r),
                None => {
                    e.add(
                        "domain",
                        "invalid_domain",
                        "must be a domain such as acme.com",
                    );
                    None
                }
            },
        };
        let industry = self
            .industry
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty());
        if industry.as_ref().is_some_and(|i| i.chars().count() > 255) {
            e.add("industry", "too_long", "must be at most 255 characters");
        }
        e.into_result().map(|()| AccountInput {
            name,
            domain,
            industry,
            owner_id: self.owner_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_reduced_and_name_required() {
        let a = AccountInput {
            name: " Acme ".into(),
            domain: Some("https://www.shop.acme.co.uk/about".into()),
            ..AccountInput::default()
        }
        .clean()
        .unwrap();
        assert_eq!(a.name, "Acme");
        assert_eq!(a.domain.as_deref(), Some("acme.co.uk"));
        let e = AccountInput {
            name: " ".into(),
            domain: Some("not a domain".into()),
            ..AccountInput::default()
        }
        .clean()
        .unwrap_err();
        assert_eq!(e.0.len(), 2);
    }
}
