//! CSV export of leads: every field, custom fields as columns, streamed page by page.

use crate::App;
use crate::error::{AppError, AppResult};
use leadline_domain::filter::LeadQuery;
use leadline_domain::{Lead, Principal};
use serde_json::Value;
use std::io::Write;

/// Neutralises spreadsheet formulas: a cell starting with `=`, `+`, `-`, `@`, tab or CR is
/// prefixed with `'` so Excel and LibreOffice show it as text (OWASP CSV injection).
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

const FIXED: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "title",
    "company",
    "website",
    "industry",
    "employees",
    "annual_revenue",
    "currency",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "time_zone",
    "description",
    "budget",
    "authority",
    "need",
    "timeline",
    "email_opt_out",
    "first_source",
    "first_medium",
    "first_campaign",
    "first_referrer",
    "first_landing_page",
    "last_source",
    "last_medium",
    "last_campaign",
    "last_referrer",
    "last_landing_page",
    "owner_id",
    "team_id",
    "external_id",
    "stage",
    "disqualify_reason",
    "score",
    "grade",
    "predicted_conversion",
    "created_at",
    "updated_at",
];

fn enum_str<T: serde::Serialize>(v: &Option<T>) -> String {
    v.as_ref()
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|x| x.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn row(l: &Lead, predicted: Option<f64>, custom_keys: &[String]) -> Vec<String> {
    let f = &l.fields;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut r = vec![
        l.id.to_string(),
        o(&f.first_name),
        o(&f.last_name),
        o(&f.email),
        o(&f.phone),
        o(&f.mobile),
        o(&f.title),
        o(&f.company),
        o(&f.website),
        o(&f.industry),
        n(f.employees.map(i64::from)),
        n(f.annual_revenue),
        o(&f.currency),
        o(&f.street),
        o(&f.city),
        o(&f.state),
        o(&f.postal_code),
        o(&f.country),
        o(&f.time_zone),
        o(&f.description),
        n(f.budget),
        enum_str(&f.authority),
        o(&f.need),
        enum_str(&f.timeline),
        f.email_opt_out.to_string(),
        o(&f.first_touch.source),
        o(&f.first_touch.medium),
        o(&f.first_touch.campaign),
        o(&f.first_touch.referrer),
        o(&f.first_touch.landing_page),
        o(&f.last_touch.source),
        o(&f.last_touch.medium),
        o(&f.last_touch.campaign),
        o(&f.last_touch.referrer),
        o(&f.last_touch.landing_page),
        f.owner_id.map(|u| u.to_string()).unwrap_or_default(),
        f.team_id.map(|u| u.to_string()).unwrap_or_default(),
        o(&f.external_id),
        l.stage.as_str().into(),
        l.disqualify_reason
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        l.score.to_string(),
        l.grade.map(|g| g.as_str().to_owned()).unwrap_or_default(),
        predicted.map(|p| format!("{p:.4}")).unwrap_or_default(),
        l.created_at.to_rfc3339(),
        l.updated_at.to_rfc3339(),
    ];
    for k in custom_keys {
        r.push(match f.custom.get(k) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(";"),
            Some(other) => other.to_string(),
        });
    }
    r
}

impl App {
    /// Writes every lead matching `query` that the principal may see as CSV, page by page
    /// (memory stays flat however many leads there are). Returns the number of rows.
    pub async fn export_leads_csv<W: Write>(
        &self,
        by: &Principal,
        mut query: LeadQuery,
        out: W,
    ) -> AppResult<u64> {
        let defs = self.custom_fields().await?;
        let keys: Vec<String> = defs.iter().map(|d| d.key.clone()).collect();
        let mut w = csv::Writer::from_writer(out);
        let mut header: Vec<String> = FIXED.iter().map(|s| (*s).to_owned()).collect();
        header.extend(keys.iter().map(|k| format!("custom.{k}")));
        w.write_record(&header)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        query.limit = leadline_domain::filter::MAX_LIMIT;
        query.cursor = None;
        let mut n = 0u64;
        loop {
            let page = self.list_leads(by, &query).await?;
            let ids: Vec<uuid::Uuid> = page.leads.iter().map(|l| l.id).collect();
            let predicted = self.predictions_of(&ids).await?;
            for l in &page.leads {
                let cells = row(l, predicted.get(&l.id).copied(), &keys);
                w.write_record(cells.iter().map(|c| csv_safe(c).into_owned()))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                n += 1;
            }
            match page
                .next_cursor
                .and_then(|c| leadline_domain::Cursor::decode(&c))
            {
                Some(c) => query.cursor = Some(c),
                None => break,
            }
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::csv_safe;

    #[test]
    fn formulas_are_neutralised() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_safe("Acme"), "Acme");
        assert_eq!(csv_safe(""), "");
    }
}
