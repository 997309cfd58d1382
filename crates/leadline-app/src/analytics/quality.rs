//! Lead quality by group: average score and grade mix under the default scoring model,
//! MQL rate, disqualification and quarantine rates.

use super::{Column, ColumnKind, Report, Resolved, avg_value, rate_value};
use crate::App;
use crate::error::AppResult;
use leadline_domain::analytics::kpi::rate;
use leadline_store::analytics as store;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Summable quality figures of a group.
#[derive(Default, Clone, Copy)]
struct Q {
    leads: i64,
    scored: i64,
    score_sum: i64,
    grades: [i64; 5],
    mql: i64,
    disqualified: i64,
    quarantined: i64,
}

impl Q {
    fn add(&mut self, o: &Q) {
        self.leads += o.leads;
        self.scored += o.scored;
        self.score_sum += o.score_sum;
        for i in 0..5 {
            self.grades[i] += o.grades[i];
        }
        self.mql += o.mql;
        self.disqualified += o.disqualified;
        self.quarantined += o.quarantined;
    }

    /// Grade points A 4 … D 1, F 0, averaged over graded leads.
    fn grade_point_average(&self) -> Value {
        let graded: i64 = self.grades.iter().sum();
        let points: i64 = self
            .grades
            .iter()
            .zip([4, 3, 2, 1, 0])
            .map(|(n, p)| n * p)
            .sum();
        avg_value(points as f64, graded)
    }

    fn row(&self, key_col: &str, key: String) -> Map<String, Value> {
        let mut r = Map::new();
        r.insert(key_col.into(), key.into());
        r.insert("leads".into(), self.leads.into());
        r.insert(
            "avg_score".into(),
            avg_value(self.score_sum as f64, self.scored),
        );
        r.insert("grade_points".into(), self.grade_point_average());
        for (g, n) in ["a", "b", "c", "d", "f"].iter().zip(self.grades) {
            r.insert(format!("grade_{g}"), n.into());
        }
        r.insert("mql_rate".into(), rate_value(rate(self.mql, self.leads)));
        r.insert(
            "disqualified_rate".into(),
            rate_value(rate(self.disqualified, self.leads)),
        );
        r.insert(
            "quarantine_rate".into(),
            rate_value(rate(self.quarantined, self.leads)),
        );
        r
    }
}

impl App {
    /// Lead quality by group.
    pub(super) async fn quality_report(&self, r: &Resolved) -> AppResult<Report> {
        let dim = r.dimension();
        let key_col = r.by_name();
        let counts = {
            let mut c = self.db.acquire().await?;
            store::quality_counts(c.conn(), dim, &r.scope).await?
        };
        let names = self.report_names().await?;
        let mut groups: BTreeMap<String, (Q, Option<Value>)> = BTreeMap::new();
        let mut all = Q::default();
        for c in counts {
            let q = Q {
                leads: c.leads,
                scored: c.scored,
                score_sum: c.score_sum,
                grades: [c.grade_a, c.grade_b, c.grade_c, c.grade_d, c.grade_f],
                mql: c.mql,
                disqualified: c.disqualified,
                quarantined: c.quarantined,
            };
            let g = groups.entry(names.label(dim, &c.key)).or_default();
            g.0.add(&q);
            g.1 = r.lead_filter(&names, dim, &c.key);
            all.add(&q);
        }
        let mut cols = vec![
            Column::new(&key_col, &key_col, ColumnKind::Text),
            Column::leads("leads", "leads", "lead"),
            Column::new("avg_score", "average score", ColumnKind::Number),
            Column::new(
                "grade_points",
                "average grade (A=4 … F=0)",
                ColumnKind::Number,
            ),
        ];
        for g in ["a", "b", "c", "d", "f"] {
            let label = format!("grade {}", g.to_uppercase());
            cols.push(Column::new(
                &format!("grade_{g}"),
                &label,
                ColumnKind::Count,
            ));
        }
        cols.extend([
            Column::new("mql_rate", "MQL rate", ColumnKind::Rate),
            Column::new("disqualified_rate", "disqualified", ColumnKind::Rate),
            Column::new("quarantine_rate", "quarantined", ColumnKind::Rate),
        ]);
        let mut rep = r.report(
            "Lead quality",
            "For leads created in the period: average score and grade under the default scoring \
             model (current values), share that reached MQL and that were disqualified by the \
             report's moment, and share the data-quality policy quarantined.",
            cols,
        );
        for (label, (q, filter)) in groups {
            let mut row = q.row(&key_col, label);
            if let Some(f) = filter {
                row.insert("_filter".into(), f);
            }
            rep.rows.push(row);
        }
        rep.total = Some(all.row(&key_col, "total".into()));
        Ok(rep)
    }
}
