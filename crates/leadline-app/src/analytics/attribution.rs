//! Money reports: campaign ROI from costs, leads and won revenue; multi-touch attribution
//! of won revenue over each lead's touch history.

use super::{Column, ColumnKind, Names, Report, Resolved, rate_value, row};
use crate::App;
use crate::error::AppResult;
use chrono::{DateTime, NaiveDate, Utc};
use leadline_domain::analytics::attribution::{Journey, Model, Touch, attribute};
use leadline_domain::analytics::kpi::rate;
use leadline_domain::time::from_micros;
use leadline_store::analytics::{self as store, DealDimension, Dimension};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The share of a cost that falls in `[from, to]` (days, inclusive), spread evenly over the
/// cost's own days; the whole cost without a period.
fn prorated(
    amount: i64,
    start: NaiveDate,
    end: NaiveDate,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> i64 {
    let days = (end - start).num_days() + 1;
    if days <= 0 {
        return 0;
    }
    let lo = from.map_or(start, |f| f.max(start));
    let hi = to.map_or(end, |t| t.min(end));
    let overlap = ((hi - lo).num_days() + 1).clamp(0, days);
    ((i128::from(amount) * i128::from(overlap) + i128::from(days) / 2) / i128::from(days)) as i64
}

/// What a touch on the timeline is credited to: (source, medium, campaign), when it is a
/// marketing touch at all. Activities carrying UTM parameters (tracked visits, form
/// submissions) are touches; so are clicks in emails (source `email`, the link's campaign).
fn touch_of(kind: &str, properties: &str) -> Option<(String, String, String)> {
    let p: Map<String, Value> = serde_json::from_str(properties).ok()?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    // The submission that created the lead is its first touch, already counted.
    if p.get("created") == Some(&Value::Bool(true)) {
        return None;
    }
    match kind {
        "email_clicked" | "link_clicked" => {
            let campaign = if s("campaign").is_empty() {
                s("sequence")
            } else {
                s("campaign")
            };
            Some(("email".into(), "email".into(), campaign))
        }
        _ if !s("utm_source").is_empty() => {
            Some((s("utm_source"), s("utm_medium"), s("utm_campaign")))
        }
        _ => None,
    }
}

impl Names {
    fn touch_key(
        &self,
        dim: Dimension,
        (source, medium, campaign): &(String, String, String),
    ) -> String {
        let or_none = |v: &String| {
            if v.is_empty() {
                "(none)".to_owned()
            } else {
                v.clone()
            }
        };
        match dim {
            Dimension::Source => or_none(source),
            Dimension::Campaign => or_none(campaign),
            _ => self.channel(source, medium).as_str().to_owned(),
        }
    }
}

impl App {
    /// Cost, leads, MQLs, customers and won revenue per campaign (or channel) and currency.
    pub(super) async fn roi_report(&self, r: &Resolved) -> AppResult<Report> {
        let by_channel = r.by == Some("channel");
        let key_col = if by_channel { "channel" } else { "campaign" };
        let campaigns: HashMap<String, String> = {
            let mut c = self.db.acquire().await?;
            leadline_store::sources::list_campaigns(c.conn())
                .await?
                .into_iter()
                .map(|c| (c.key, c.channel.as_str().to_owned()))
                .collect()
        };
        let group = |campaign: &str| -> Option<String> {
            if campaign.is_empty() {
                return None;
            }
            Some(if by_channel {
                campaigns
                    .get(campaign)
                    .cloned()
                    .unwrap_or_else(|| "other".into())
            } else {
                campaign.to_owned()
            })
        };
        let from = r
            .from
            .map(|d| d.to_string())
            .unwrap_or_else(|| "0000-01-01".into());
        let to =
            r.to.map(|d| d.to_string())
                .unwrap_or_else(|| "9999-12-31".into());
        let mut c = self.db.acquire().await?;
        let costs = store::costs_overlapping(c.conn(), &from, &to).await?;
        let funnel = store::funnel_counts(c.conn(), Dimension::Campaign, false, &r.scope).await?;
        let probabilities: Vec<(String, u8)> = Vec::new();
        let deals =
            store::deal_counts(c.conn(), DealDimension::Campaign, &r.scope, &probabilities).await?;
        drop(c);
        // Lead counts per group: leads, MQLs, customers (won).
        let mut leads: BTreeMap<String, [i64; 3]> = BTreeMap::new();
        for f in funnel {
            let Some(g) = group(&f.key.text) else {
                continue;
            };
            let e = leads.entry(g).or_default();
            e[0] += f.n;
            if f.furthest >= 1 {
                e[1] += f.n;
            }
            if f.furthest >= 5 {
                e[2] += f.n;
            }
        }
        // Money per (group, currency): cost, revenue.
        let mut money: BTreeMap<(String, String), [i64; 2]> = BTreeMap::new();
        let mut notes = BTreeSet::new();
        for k in costs {
            let (Ok(s), Ok(e)) = (k.period_start.parse(), k.period_end.parse()) else {
                notes.insert(format!(
                    "A cost of campaign {} has an unreadable period and was left out.",
                    k.campaign
                ));
                continue;
            };
            let g = if by_channel {
                k.channel.clone()
            } else {
                k.campaign.clone()
            };
            money.entry((g, k.currency)).or_default()[0] += prorated(k.amount, s, e, r.from, r.to);
        }
        for d in deals {
            let Some(g) = group(&d.key.text) else {
                continue;
            };
            if d.won_amount != 0 || d.won > 0 {
                money.entry((g, d.currency)).or_default()[1] += d.won_amount;
            }
        }
        let mut rep = r.report(
            "Campaign ROI",
            "Per campaign (or the campaigns' channel) and currency: the costs recorded for the \
             period (a cost spanning days outside it counts pro rata by day), leads first \
             touched by the campaign and created in the period, how many reached MQL and were \
             won, cost per lead, per MQL and per customer, won revenue of deals closed in the \
             period, and return (revenue − cost) / cost. A zero cost gives no cost per lead and \
             no return; currencies are never mixed.",
            vec![
                Column::new(key_col, key_col, ColumnKind::Text),
                Column::new("currency", "currency", ColumnKind::Text),
                Column::new("cost", "cost", ColumnKind::Money),
                Column::leads("leads", "leads", "lead"),
                Column::leads("mql", "MQLs", "mql"),
                Column::leads("customers", "customers", "won"),
                Column::new("cost_per_lead", "cost per lead", ColumnKind::Money),
                Column::new("cost_per_mql", "cost per MQL", ColumnKind::Money),
                Column::new("cost_per_customer", "cost per customer", ColumnKind::Money),
                Column::new("revenue", "revenue", ColumnKind::Money),
                Column::new("roi", "return on cost", ColumnKind::Number),
            ],
        );
        let keys: BTreeSet<String> = leads
            .keys()
            .cloned()
            .chain(money.keys().map(|(g, _)| g.clone()))
            .collect();
        for g in keys {
            let n = leads.get(&g).copied().unwrap_or_default();
            let mut currencies: Vec<(&String, [i64; 2])> = money
                .iter()
                .filter(|((k, _), _)| *k == g)
                .map(|((_, cur), v)| (cur, *v))
                .collect();
            let empty = String::new();
            if currencies.is_empty() {
                currencies.push((&empty, [0, 0]));
            }
            for (cur, [cost, revenue]) in currencies {
                let per = |count: i64| -> Value {
                    if cost > 0 && count > 0 {
                        (cost / count).into()
                    } else {
                        Value::Null
                    }
                };
                let mut m = row([
                    ("currency", cur.clone().into()),
                    ("cost", cost.into()),
                    ("leads", n[0].into()),
                    ("mql", n[1].into()),
                    ("customers", n[2].into()),
                    ("cost_per_lead", per(n[0])),
                    ("cost_per_mql", per(n[1])),
                    ("cost_per_customer", per(n[2])),
                    ("revenue", revenue.into()),
                    (
                        "roi",
                        if cost > 0 {
                            rate_value(rate(revenue - cost, cost))
                        } else {
                            Value::Null
                        },
                    ),
                ]);
                m.insert(key_col.into(), g.clone().into());
                if !by_channel {
                    let mut f = r.created_filter(None, None);
                    f.insert("campaign".into(), g.clone().into());
                    m.insert("_filter".into(), Value::Object(f));
                }
                rep.rows.push(m);
            }
        }
        rep.notes = notes.into_iter().collect();
        Ok(rep)
    }

    /// Won revenue credited to channels, sources or campaigns under every model.
    pub(super) async fn attribution_report(&self, r: &Resolved) -> AppResult<Report> {
        let dim = match r.by {
            Some("source") => Dimension::Source,
            Some("campaign") => Dimension::Campaign,
            _ => Dimension::Channel,
        };
        let key_col = r.by.unwrap_or("channel");
        let names = self.report_names().await?;
        // The deals and their touches are independent reads: run at once, each on its own
        // connection (neither holds one while waiting for another).
        let (deals, touches) = tokio::try_join!(
            async {
                let mut c = self.db.acquire().await?;
                store::won_deals(c.conn(), &r.scope).await
            },
            async {
                let mut c = self.db.acquire().await?;
                store::won_touches(c.conn(), &r.scope).await
            }
        )?;
        let mut by_lead: HashMap<uuid::Uuid, Vec<Touch<String>>> = HashMap::new();
        for t in touches {
            if let Some(k) = touch_of(&t.kind, &t.properties) {
                by_lead.entry(t.lead_id).or_default().push(Touch {
                    key: names.touch_key(dim, &k),
                    at: from_micros(t.at),
                });
            }
        }
        let journeys: Vec<Journey<String>> = deals
            .iter()
            .map(|d| {
                let created: DateTime<Utc> = from_micros(d.lead_created);
                let first = (
                    d.first_source.clone().unwrap_or_default(),
                    d.first_medium.clone().unwrap_or_default(),
                    d.first_campaign.clone().unwrap_or_default(),
                );
                let mut touches = vec![Touch {
                    key: names.touch_key(dim, &first),
                    at: created,
                }];
                touches.extend(
                    by_lead
                        .get(&d.lead_id)
                        .into_iter()
                        .flatten()
                        .filter(|t| t.at > created)
                        .cloned(),
                );
                Journey {
                    touches,
                    converted_at: from_micros(d.closed_at),
                    amount: d.amount,
                    currency: d.currency.clone(),
                }
            })
            .collect();
        let mut credited: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for (i, model) in Model::ALL.iter().enumerate() {
            for ((cur, key), amount) in attribute(*model, &journeys, "(unattributed)".to_owned()) {
                credited
                    .entry((cur, key))
                    .or_insert_with(|| vec![0; Model::ALL.len()])[i] += amount;
            }
        }
        let mut deals_touched: BTreeMap<(String, String), i64> = BTreeMap::new();
        for j in &journeys {
            let keys: BTreeSet<&String> = j
                .touches
                .iter()
                .filter(|t| t.at <= j.converted_at)
                .map(|t| &t.key)
                .collect();
            for k in keys {
                *deals_touched
                    .entry((j.currency.clone(), k.clone()))
                    .or_default() += 1;
            }
        }
        let mut cols = vec![
            Column::new(key_col, key_col, ColumnKind::Text),
            Column::new("currency", "currency", ColumnKind::Text),
            Column::new("deals", "won deals touched", ColumnKind::Count),
        ];
        for m in Model::ALL {
            cols.push(Column::new(
                m.key(),
                &m.key().replace('_', " "),
                ColumnKind::Money,
            ));
        }
        let mut rep = r.report(
            "Revenue attribution",
            "Revenue of deals won in the period credited to what touched their leads before the \
             win: the lead's first touch (when it was created) and every later touch on its \
             timeline (tracked visits and form submissions with UTM parameters, clicks in \
             emails). First touch and last touch give all to one touch; linear splits evenly; \
             position based gives 40 % to the first, 40 % to the last and 20 % across the \
             middle; time decay halves a touch's weight every 7 days before the win. Credits \
             are whole minor units that add up to the revenue, per currency.",
            cols,
        );
        for ((cur, key), amounts) in credited {
            let mut m = row([
                ("currency", cur.clone().into()),
                (
                    "deals",
                    deals_touched
                        .get(&(cur.clone(), key.clone()))
                        .copied()
                        .unwrap_or(0)
                        .into(),
                ),
            ]);
            m.insert(key_col.into(), key.into());
            for (model, a) in Model::ALL.iter().zip(amounts) {
                m.insert(model.key().into(), a.into());
            }
            rep.rows.push(m);
        }
        Ok(rep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn costs_count_pro_rata_by_day() {
        // 3,100.00 over the 31 days of March: 100.00 a day.
        let (s, e) = (d("2026-03-01"), d("2026-03-31"));
        assert_eq!(prorated(310_000, s, e, None, None), 310_000);
        assert_eq!(prorated(310_000, s, e, Some(d("2026-03-30")), None), 20_000);
        assert_eq!(
            prorated(310_000, s, e, Some(d("2026-02-01")), Some(d("2026-03-01"))),
            10_000
        );
        assert_eq!(prorated(310_000, s, e, Some(d("2026-04-01")), None), 0);
        assert_eq!(prorated(0, s, e, None, None), 0);
        // A period that ends before it starts costs nothing rather than a negative share.
        assert_eq!(prorated(1_000, e, s, None, None), 0);
    }

    #[test]
    fn touches_are_utm_activities_and_email_clicks_but_not_the_creating_submission() {
        let t = |kind, p: &str| touch_of(kind, p);
        assert_eq!(
            t(
                "page_view",
                r#"{"utm_source":"linkedin","utm_medium":"paid_social"}"#
            ),
            Some(("linkedin".into(), "paid_social".into(), String::new()))
        );
        assert_eq!(
            t(
                "email_clicked",
                r#"{"url":"https://x.example","campaign":"spring"}"#
            ),
            Some(("email".into(), "email".into(), "spring".into()))
        );
        assert_eq!(
            t(
                "form_submitted",
                r#"{"created":true,"utm_source":"google"}"#
            ),
            None
        );
        assert_eq!(t("page_view", r#"{"url":"https://x.example"}"#), None);
        assert_eq!(t("page_view", "not json"), None);
    }
}
