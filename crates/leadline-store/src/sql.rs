//! A small builder for dynamic SQL with `$N` placeholders, run on either engine.

use uuid::Uuid;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Uuid(Uuid),
}

/// SQL text plus its binds, numbered in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    /// Starts with fixed text.
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    /// Appends fixed text (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value` and returns its `$N` text.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        let p = format!("${}", self.binds.len());
        self.text.push_str(&p);
        p
    }
}

/// `$1, $2, …, $n` shifted by `offset`.
pub fn placeholders(n: usize, offset: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", i + offset))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` list of a multi-row INSERT: `($1, …, $k), ($k+1, …)` for `rows` rows of
/// `per_row` binds, for a statement with no other placeholders. SQLite gets anonymous `?`:
/// sqlx asks SQLite for every `$N`'s name, which SQLite finds by walking the statement's
/// list of names, so binding named placeholders grows with the square of their number
/// (a tenth of a SQLite re-score's time at 500 binds a statement).
pub fn values_rows(backend: crate::Backend, rows: usize, per_row: usize) -> String {
    if backend == crate::Backend::Sqlite {
        let row = format!("({})", vec!["?"; per_row].join(", "));
        return vec![row.as_str(); rows].join(", ");
    }
    (0..rows)
        .map(|i| format!("({})", placeholders(per_row, i * per_row)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row INSERT of rows with `params_per_row` binds. PostgreSQL gains from big
/// statements (fewer round trips; at most 65,535 binds). On SQLite the statements use
/// anonymous `?` placeholders (see [`values_rows`]), so their size costs only parsing.
pub fn bulk_rows(backend: crate::Backend, params_per_row: usize) -> usize {
    let budget = match backend {
        crate::Backend::Sqlite => BUDGET_SQLITE,
        crate::Backend::Postgres => 30_000,
    };
    (budget / params_per_row.max(1)).clamp(1, 1000)
}

/// Binds per multi-row statement on SQLite (8× as many made a re-score no faster).
const BUDGET_SQLITE: usize = 500;

/// Applies [`Bind`]s to a sqlx query in order. Works for `query`, `query_as` and
/// `query_scalar` on both engines.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                $crate::sql::Bind::Text(s) => q.bind(s),
                $crate::sql::Bind::Int(i) => q.bind(i),
                $crate::sql::Bind::Uuid(u) => q.bind(u),
            };
        }
        q
    }};
}

/// A JSON value without NUL characters in its strings or keys: PostgreSQL's `jsonb` and
/// `text` refuse `\u0000`, and it carries no meaning in lead data (it arrives in broken
/// emails and forged posts). Applied to JSON from outside before it is stored.
pub fn without_nul(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "")),
        Value::Array(items) => Value::Array(items.iter().map(without_nul).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.replace('\0', ""), without_nul(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// [`without_nul`] for a JSON object.
pub fn map_without_nul(
    m: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    match without_nul(&serde_json::Value::Object(m.clone())) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
