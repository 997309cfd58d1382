//! A report as text: one cell per column (money in major units of the row's currency,
//! rates as fractions), CSV with text cells neutralised for spreadsheets, and an aligned
//! table for terminals.

use super::{ColumnKind, Report};
use crate::export::csv_safe;
use leadline_domain::money::format_minor;
use serde_json::{Map, Value};

/// A cell as text (empty for no value).
pub fn cell(kind: ColumnKind, key: &str, row: &Map<String, Value>) -> String {
    let v = row.get(key).unwrap_or(&Value::Null);
    match (kind, v) {
        (_, Value::Null) => String::new(),
        (ColumnKind::Money, Value::Number(n)) => {
            let currency = row
                .get("currency")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty());
            n.as_i64()
                .map(|a| format_minor(a, currency))
                .unwrap_or_default()
        }
        (
            ColumnKind::Rate | ColumnKind::Number | ColumnKind::Days | ColumnKind::Minutes,
            Value::Number(n),
        ) => n
            .as_f64()
            .map(|x| {
                format!("{x:.4}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_owned()
            })
            .unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The rows and, when there is one, the total row, in order.
fn all_rows(r: &Report) -> impl Iterator<Item = &Map<String, Value>> {
    r.rows.iter().chain(r.total.as_ref())
}

/// The report as CSV: a header of column keys and the rows (the total row is left out so
/// the file sums cleanly in a spreadsheet).
pub fn to_csv(r: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(r.columns.iter().map(|c| c.key.as_str()))?;
    for row in &r.rows {
        w.write_record(r.columns.iter().map(|c| {
            let t = cell(c.kind, &c.key, row);
            match c.kind {
                ColumnKind::Text => csv_safe(&t).into_owned(),
                _ => t,
            }
        }))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The report as an aligned text table (keys left, figures right).
pub fn to_table(r: &Report) -> String {
    let header: Vec<String> = r.columns.iter().map(|c| c.key.clone()).collect();
    let rows: Vec<Vec<String>> = all_rows(r)
        .map(|row| {
            r.columns
                .iter()
                .map(|c| cell(c.kind, &c.key, row))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|x| x[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .zip(&r.columns)
            .map(|((c, w), col)| {
                if col.kind == ColumnKind::Text {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(&header);
    out.push('\n');
    for x in &rows {
        out.push_str(&line(x));
        out.push('\n');
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
