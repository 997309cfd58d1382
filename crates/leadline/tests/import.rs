//! CSV import end to end on both databases: the X Education dataset through the CLI, an
//! import killed with SIGKILL and resumed, and the API's dry run, job, error report and
//! re-run without duplicates.

mod common;

use leadline_store::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const X_EDUCATION: &str = "../../../shared/data/leads_x_education.csv";

fn leadline(dir: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadline"));
    c.current_dir(dir)
        .env("LEADLINE_LOG", "warn")
        .env("LEADLINE_DATABASE_URL", url)
        .env_remove("LEADLINE_DATA_DIR");
    c
}

async fn count(db: &leadline_store::Db, sql: &str) -> i64 {
    use leadline_store::Db;
    match db {
        Db::Sqlite { read, .. } => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(read)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn the_x_education_dataset_imports_completely_on_both_databases() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(X_EDUCATION);
    if !data.exists() {
        eprintln!("skipped: {} is absent", data.display());
        return;
    }
    for db in testing::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "import",
            data.to_str().unwrap(),
            "--custom-fields",
            "auto",
            "--outcome-column",
            "Converted",
        ];
        let out = leadline(dir.path(), &db.url).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            db.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("9240 created, 0 updated, 0 skipped, 0 failed"),
            "{stdout}"
        );
        assert_eq!(
            count(&db.db, "SELECT COUNT(*) FROM leads").await,
            9240,
            "{}",
            db.name
        );
        assert_eq!(
            count(
                &db.db,
                "SELECT COUNT(*) FROM lead_outcomes WHERE outcome = 'won'"
            )
            .await,
            3561,
            "Converted = 1 for 3,561 leads"
        );
        assert_eq!(
            count(
                &db.db,
                "SELECT COUNT(*) FROM leads WHERE first_source = 'Olark Chat'"
            )
            .await,
            1755,
            "Lead Source lands in the lead's source"
        );
        assert_eq!(
            count(&db.db, "SELECT COUNT(*) FROM custom_fields WHERE key IN ('lead_origin', 'specialization', 'totalvisits')").await,
            3
        );
        assert_eq!(
            count(&db.db, "SELECT COUNT(*) FROM leads WHERE external_id = '7927b2df-8bba-4d29-b9a2-b6e0beafe620'").await,
            1,
            "Prospect ID is the external id"
        );
        // Cross-check of the funnel report against the file itself: leads and conversions by
        // Lead Source counted straight from the CSV equal `leadline report funnel`.
        let mut expected: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        let mut r = csv::Reader::from_path(&data).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|x| x == name).unwrap();
        let (src, conv) = (col("Lead Source"), col("Converted"));
        for rec in r.records() {
            let rec = rec.unwrap();
            let key = match rec[src].trim() {
                "" => "(none)".to_owned(),
                s => s.to_owned(),
            };
            let e = expected.entry(key).or_default();
            e.0 += 1;
            e.1 += i64::from(rec[conv].trim() == "1");
        }
        let out = leadline(dir.path(), &db.url)
            .args(["report", "funnel", "--by", "source", "--format", "csv"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        let mut r = csv::Reader::from_reader(out.stdout.as_slice());
        assert_eq!(
            r.headers().unwrap().iter().take(7).collect::<Vec<_>>(),
            ["source", "leads", "mql", "sal", "sql", "converted", "won"]
        );
        for rec in r.records() {
            let rec = rec.unwrap();
            got.insert(
                rec[0].to_owned(),
                (rec[1].parse().unwrap(), rec[5].parse().unwrap()),
            );
        }
        assert_eq!(got, expected, "{}: conversion by Lead Source", db.name);
        // Re-running the same file creates nothing.
        let out = leadline(dir.path(), &db.url).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("0 created, 0 updated, 9240 skipped"),
            "{stdout}"
        );
        assert_eq!(count(&db.db, "SELECT COUNT(*) FROM leads").await, 9240);
    }
}

fn generated_csv(path: &Path, rows: usize) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["Email", "First Name", "Last Name", "Company", "Lead Source"])
        .unwrap();
    for i in 0..rows {
        w.write_record([
            format!("person{i}@crash.example"),
            format!("First{i}"),
            format!("Last{i}"),
            format!("Company {}", i % 97),
            "Trade Show".into(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

#[tokio::test]
async fn an_import_killed_mid_way_resumes_to_exactly_the_rows_of_the_file() {
    const ROWS: usize = 20_000;
    for db in testing::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list.csv");
        generated_csv(&file, ROWS);
        let mut child = leadline(dir.path(), &db.url)
            .args(["import", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until some batches committed, then kill without warning.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let done = count(&db.db, "SELECT COALESCE(MAX(next_row), 0) FROM imports").await;
            if done > 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let partial = count(&db.db, "SELECT COUNT(*) FROM leads").await;
        let progressed = count(&db.db, "SELECT next_row FROM imports").await;
        assert_eq!(
            partial, progressed,
            "{}: progress commits with its rows",
            db.name
        );
        if partial as usize == ROWS {
            eprintln!(
                "{}: the import finished before the kill; resume not exercised this time",
                db.name
            );
        }
        // The runner's lease must lapse before another process may take the job over;
        // the CLI resumes its own file at once because the lease belongs to a dead process.
        let stale = "UPDATE imports SET updated_at = updated_at - 120000000";
        match &db.db {
            leadline_store::Db::Sqlite { write, .. } => {
                sqlx::query(stale).execute(write).await.unwrap();
            }
            leadline_store::Db::Postgres(p) => {
                sqlx::query(stale).execute(p).await.unwrap();
            }
        }
        let out = leadline(dir.path(), &db.url)
            .args(["import", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        if (partial as usize) < ROWS {
            assert!(stderr.contains("resuming import"), "{stderr}");
        }
        assert_eq!(
            count(&db.db, "SELECT COUNT(*) FROM leads").await,
            ROWS as i64,
            "{}",
            db.name
        );
        assert_eq!(
            count(&db.db, "SELECT COUNT(DISTINCT email_key) FROM leads").await,
            ROWS as i64,
            "{}: every row exactly once",
            db.name
        );
        assert_eq!(
            count(&db.db, "SELECT COUNT(*) FROM imports WHERE status = 'done'").await,
            1
        );
    }
}

async fn upload(
    t: &common::TestApp,
    csv: &'static str,
    options: Value,
    dry_run: bool,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.as_bytes()).file_name("list.csv"),
        )
        .text("options", options.to_string());
    t.post(&format!("/api/v1/imports?dry_run={dry_run}"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn wait_done(t: &common::TestApp, id: &str) -> Value {
    for _ in 0..500 {
        let job: Value = t
            .get(&format!("/api/v1/imports/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import {id} did not finish");
}

#[tokio::test]
async fn the_api_previews_imports_and_reports_every_bad_row() {
    const CSV: &str = "Email,First Name,Last Name,No. of Employees,Rating\n\
        a@imp.example,Ana,Lima,12,Hot\n\
        not-an-email,Bo,Berg,5,Cold\n\
        b@imp.example,Cy,Cole,many,Warm\n\
        =cmd|' /C calc'!A0,Dee,Dale,1,Hot\n\
        c@imp.example,Ed,Eng\n\
        A@IMP.example,Ana,Again,12,Hot\n";
    for t in common::apps().await {
        let r = upload(&t, CSV, json!({"source": "Expo 2026"}), true).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["total_rows"], 6);
        assert_eq!(p["valid_rows"], 2, "{p}");
        let rows: Vec<i64> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["row"].as_i64().unwrap())
            .collect();
        assert_eq!(rows, [2, 3, 4, 5], "{p}");
        assert_eq!(p["mapping"][3]["target"], "employees");
        assert_eq!(
            p["mapping"][4]["target"], "",
            "unknown columns are kept on the timeline"
        );
        assert_eq!(t.lead_count().await, 0, "a dry run writes nothing");

        let r = upload(&t, CSV, json!({"source": "Expo 2026"}), false).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let job: Value = r.json().await.unwrap();
        let id = job["id"].as_str().unwrap().to_owned();
        let done = wait_done(&t, &id).await;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(
            (
                done["created"].as_i64(),
                done["skipped"].as_i64(),
                done["failed"].as_i64()
            ),
            (Some(1), Some(1), Some(4)),
            "{done}"
        );
        let leads: Value = t
            .get("/api/v1/leads?q=a@imp.example")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(leads["data"][0]["first_touch"]["source"], "Expo 2026");
        let report = t
            .get(&format!("/api/v1/imports/{id}/errors.csv"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            report.starts_with("row,column,code,message,raw"),
            "{report}"
        );
        assert!(report.contains("wrong_column_count"), "{report}");
        assert!(
            report.contains("'=cmd"),
            "formulas are neutralised: {report}"
        );

        // The same file again: nothing new.
        let r = upload(&t, CSV, json!({"source": "Expo 2026"}), false).await;
        let id2 = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let again = wait_done(&t, &id2).await;
        assert_eq!(again["created"], 0, "{again}");
        assert_eq!(t.lead_count().await, 1);

        // A mapping to nowhere is refused before anything is stored.
        let r = upload(
            &t,
            CSV,
            json!({"mapping": [{"column": "Rating", "target": "ratng"}]}),
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
