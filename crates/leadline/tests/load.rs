//! The short load test CI runs: `leadline bench --load` for 15 seconds on SQLite and on
//! PostgreSQL (web-to-lead submissions and API reads from 8 clients against a `serve`
//! process). Every request must be answered; the figures are printed, never asserted (the
//! machine is shared). The documented long run is `leadline bench --load 600` (README).

use std::process::Command;

fn bench(dir: &std::path::Path, database_url: Option<&str>) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadline"));
    c.current_dir(dir)
        .env("LEADLINE_LOG", "warn")
        .env_remove("LEADLINE_DATABASE_URL")
        .env_remove("LEADLINE_DATA_DIR");
    if let Some(u) = database_url {
        c.args(["--database-url", u]);
    }
    let out = c
        .args([
            "bench",
            "--load",
            "15",
            "--leads",
            "2000",
            "--concurrency",
            "8",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    stdout
}

fn check(out: &str) {
    assert!(out.contains("sustained:"), "{out}");
    assert!(
        out.contains("error rate 0.000 %"),
        "every request answered:\n{out}"
    );
    for kind in ["/w2l", "GET /leads ", "GET /leads/{id}"] {
        let line = out.lines().find(|l| l.contains(kind)).unwrap();
        let answered: u64 = line
            .split_whitespace()
            .rev()
            .nth(4)
            .unwrap()
            .parse()
            .unwrap();
        assert!(answered > 0, "{kind}: nothing answered\n{out}");
    }
    assert!(out.contains("server RSS (MiB) every 5 s:"), "{out}");
}

#[test]
fn a_short_load_on_sqlite_answers_every_request() {
    let dir = tempfile::tempdir().unwrap();
    check(&bench(dir.path(), None));
}

#[test]
fn a_short_load_on_postgres_answers_every_request() {
    if std::env::var("LEADLINE_SKIP_PG").is_ok_and(|v| v == "1") {
        eprintln!("LEADLINE_SKIP_PG=1: skipping the PostgreSQL load test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("LEADLINE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    check(&bench(dir.path(), Some(&url)));
}
