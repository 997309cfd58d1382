//! Role matrix files (`fixtures/*role_matrix.txt`): one line per operation or page,
//! `METHOD PATH` then the roles refused, or `-`; `#` lines are comments.

use std::collections::BTreeMap;

/// The file's lines as operation → refused roles (empty when the file is missing).
pub fn read(path: &str) -> BTreeMap<String, Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = format!("{} {}", w.next().unwrap_or(""), w.next().unwrap_or(""));
            (name, w.filter(|x| *x != "-").map(str::to_owned).collect())
        })
        .collect()
}

/// Writes the file: `header` (comment lines), then one line per entry, names padded to
/// `width`.
pub fn write(path: &str, header: &str, width: usize, m: &BTreeMap<String, Vec<String>>) {
    let mut out = header.to_owned();
    for (name, refused) in m {
        let who = if refused.is_empty() {
            "-".to_owned()
        } else {
            refused.join(" ")
        };
        out.push_str(&format!("{name:<width$} {who}\n"));
    }
    std::fs::write(path, out).unwrap();
}
