//! Issue 11, CSV formula injection, on both databases: formulas (`=`, `+`, `-`, `@`, tab,
//! CR) put into lead fields, a custom field, UTM parameters (which become report rows) and
//! an import's rows come out of every CSV Leadline writes — the lead export, every report
//! in every grouping, the import error report — as text a spreadsheet will not evaluate.

mod common;

use leadline_domain::Principal;
use serde_json::{Value, json};

/// Formulas, each naming `evil.example` so its cells can be found.
const FORMULAS: [&str; 6] = [
    "=HYPERLINK(\"http://evil.example/a\",\"x\")",
    "+1+cmd|' /C calc'!A0 evil.example",
    "-2+3+cmd|' evil.example'!A0",
    "@SUM(1+1)*cmd|' evil.example'!A0",
    "\t=1+1 evil.example",
    "\r=1+1 evil.example",
];

/// Cells carrying a payload that a spreadsheet would read as a formula.
fn dangerous_cells(csv_text: &str) -> (usize, Vec<String>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let mut payload_cells = 0;
    let mut bad = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        for cell in rec.iter() {
            if !cell.contains("evil.example") {
                continue;
            }
            payload_cells += 1;
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                bad.push(format!("{cell:?}"));
            }
        }
    }
    (payload_cells, bad)
}

#[tokio::test]
async fn every_csv_export_neutralises_formulas() {
    for t in common::apps().await {
        let n = t.name;
        common::ok(
            t.post("/api/v1/custom-fields")
                .json(&json!({"key": "note", "label": "Note", "kind": "text"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        for (i, f) in FORMULAS.iter().enumerate() {
            common::ok(
                t.post("/api/v1/capture")
                    .json(&json!({"lead": {
                        "email": format!("f{i}@formula.example"),
                        "first_name": f, "last_name": f, "company": f, "title": f,
                        "custom": {"note": f},
                        "first_touch": {"source": f, "medium": f, "campaign": f},
                    }}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        }
        let mut checked = Vec::new();
        let mut failures = Vec::new();
        let mut check = |what: String, body: &str| {
            let (cells, bad) = dangerous_cells(body);
            if !bad.is_empty() {
                failures.push(format!("{what}: {}", bad.join(", ")));
            }
            checked.push((what, cells));
        };

        // The lead export.
        let mut out = Vec::new();
        t.app
            .export_leads_csv(
                &Principal::system("test"),
                t.app.parse_lead_query(&[]).await.unwrap(),
                &mut out,
            )
            .await
            .unwrap();
        check("lead export".into(), &String::from_utf8(out).unwrap());

        // Every report, ungrouped and in every grouping it offers.
        let reports = common::ok(t.get("/api/v1/reports").send().await.unwrap()).await;
        for r in reports.as_array().unwrap() {
            let name = r["name"].as_str().unwrap();
            let mut groupings = vec![None];
            groupings.extend(
                r["dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(Some),
            );
            for by in groupings {
                let path = match by {
                    Some(b) => format!("/api/v1/reports/{name}/csv?by={b}"),
                    None => format!("/api/v1/reports/{name}/csv"),
                };
                let res = t.get(&path).send().await.unwrap();
                if res.status() == 422 {
                    continue;
                }
                assert!(res.status().is_success(), "{n}: {path}: {}", res.status());
                check(path, &res.text().await.unwrap());
            }
        }

        // The import error report quotes each refused row.
        let mut rows = String::from("email,first_name,company\n");
        for f in FORMULAS {
            let q = f.replace('"', "\"\"");
            rows.push_str(&format!("\"not an email {q}\",\"{q}\",\"{q}\"\n"));
        }
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(rows.into_bytes()).file_name("formulas.csv"),
        );
        let job = common::ok(
            t.post("/api/v1/imports")
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = job["id"].as_str().unwrap().to_owned();
        for _ in 0..200 {
            let j = common::ok(
                t.get(&format!("/api/v1/imports/{id}"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            if j["status"] == "done" || j["status"] == "failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let report = t
            .get(&format!("/api/v1/imports/{id}/errors.csv"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        check("import errors".into(), &report);

        let with_payload: Vec<&(String, usize)> = checked.iter().filter(|(_, c)| *c > 0).collect();
        eprintln!(
            "{n}: {} CSV files checked, {} carrying payload cells ({} cells)",
            checked.len(),
            with_payload.len(),
            with_payload.iter().map(|(_, c)| c).sum::<usize>()
        );
        assert!(
            failures.is_empty(),
            "{n}: formulas left live:\n{}",
            failures.join("\n")
        );
        for must in ["lead export", "import errors"] {
            assert!(
                checked
                    .iter()
                    .any(|(w, c)| w == must && *c >= FORMULAS.len()),
                "{n}: the {must} did not carry the payloads: {checked:?}"
            );
        }
        assert!(
            checked
                .iter()
                .any(|(w, c)| w.contains("by=source") && *c > 0),
            "{n}: no report grouped by source carried the payloads: {checked:?}"
        );
    }
}
