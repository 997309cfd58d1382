//! Issue 11, the contract: schemathesis (a property-based API tester from PyPI) generates
//! requests from `/api/v1/openapi.json` — valid ones and ones that break the schema — and
//! sends them to the running server with an admin key, on SQLite and on PostgreSQL. It must
//! find no server error (5xx) and no response that breaks the documented schema.
//!
//! `./scripts/test` installs schemathesis into a virtualenv next to the build and names it
//! in `LEADLINE_SCHEMATHESIS`; without it the test is skipped locally and fails in CI. The
//! run is short here (`LEADLINE_CONTRACT_EXAMPLES`, default 3 generated cases per operation
//! beside the ~50 boundary cases of the coverage phase); the long run is in the README.

mod common;

fn schemathesis() -> Option<String> {
    match std::env::var("LEADLINE_SCHEMATHESIS") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run the contract test: LEADLINE_SCHEMATHESIS is not set"
            );
            None
        }
    }
}

#[tokio::test]
async fn the_server_keeps_its_openapi_contract() {
    let Some(st) = schemathesis() else {
        eprintln!(
            "LEADLINE_SCHEMATHESIS is not set: skipping the contract test (./scripts/test sets it)"
        );
        return;
    };
    let examples = std::env::var("LEADLINE_CONTRACT_EXAMPLES").unwrap_or_else(|_| "3".into());
    let mut failures = Vec::new();
    for t in common::apps().await {
        // Demo data (users, leads with timelines, sequences, templates, opportunities), so
        // responses carry real rows to check against the schema, and ids to reuse.
        let demo = t.app.load_demo(200, 7).await.unwrap();
        eprintln!("{}: demo data {demo:?}", t.name);
        let reports = tempfile::tempdir().unwrap();
        // The server runs in this process: wait for schemathesis without blocking it.
        let out = tokio::process::Command::new(&st)
            .current_dir(reports.path())
            .env("NO_COLOR", "1")
            .env(
                "SCHEMATHESIS_HOOKS",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/schemathesis_hooks.py"
                ),
            )
            .args([
                "run",
                &t.url("/api/v1/openapi.json"),
                "--header",
                &format!("Authorization: Bearer {}", t.key),
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                &examples,
                "--seed",
                "20261127",
                // One worker: with two, hypothesis parses Python source in two threads at
                // once and CPython 3.11 fails with "AST constructor recursion depth
                // mismatch" (a fault of the tool, not of the server), seen in CI.
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-shrink",
                "--suppress-health-check",
                "all",
                "--output-truncate",
                "true",
                // Revoking keys is tested elsewhere: here it would revoke the key the run
                // signs in with (schemathesis reuses ids it saw in responses).
                "--exclude-path",
                "/api-keys/{id}",
            ])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary: Vec<&str> = stdout
            .lines()
            .filter(|l| {
                l.contains("passed")
                    || l.contains("failed")
                    || l.contains("Test cases")
                    || l.contains("API Operations")
            })
            .collect();
        eprintln!("{}: schemathesis\n{}", t.name, summary.join("\n"));
        if !out.status.success() {
            failures.push(format!(
                "{}: schemathesis failed ({})\n{stdout}\n{}",
                t.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
