//! `leadline score`: explain a lead's score, re-score everyone, rules files in and out.

use crate::cli::{ScoreCmd, describe};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use leadline_app::App;
use leadline_domain::Principal;
use leadline_domain::scoring::engine::RuleKind;

/// Runs one `score` subcommand.
pub async fn run(app: &App, by: &Principal, what: ScoreCmd) -> anyhow::Result<()> {
    match what {
        ScoreCmd::Explain { lead_id } => {
            let lead = app.get_lead(by, lead_id).await.map_err(describe)?;
            println!(
                "{} ({lead_id}), stage {}",
                lead.fields.display_name(),
                lead.stage.as_str()
            );
            for s in app.lead_score(by, lead_id).await.map_err(describe)? {
                println!(
                    "\nmodel {} v{}{}: score {}, fit {}, grade {}, priority {}",
                    s.model_key,
                    s.version,
                    if s.is_default { " (default)" } else { "" },
                    s.score,
                    s.fit,
                    s.grade.as_str(),
                    s.priority
                );
                println!(
                    "  MQL: {} — {}",
                    if s.mql.qualifies { "yes" } else { "no" },
                    s.mql.summary
                );
                for c in &s.contributions {
                    match c.kind {
                        RuleKind::Fit => {
                            println!("  fit       {:>+7.1}  {}", c.points, c.rule_name)
                        }
                        RuleKind::Behaviour => println!(
                            "  behaviour {:>+7.1}  {} ({}), worth {:.1} today",
                            c.points,
                            c.rule_name,
                            c.at.map(|t| t.format("%Y-%m-%d").to_string())
                                .unwrap_or_default(),
                            c.value_today
                        ),
                    }
                }
                if s.contributions.is_empty() {
                    println!("  no rule applies");
                }
            }
            Ok(())
        }
        ScoreCmd::Rescore { model } => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} leads {per_sec} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let job = app
                .rescore_all(by, &model, |j| {
                    bar.set_length(j.total.max(0) as u64);
                    bar.set_position(j.done.max(0) as u64);
                })
                .await
                .map_err(describe)?;
            bar.finish_and_clear();
            println!(
                "re-scored {} leads under {} v{} in {:.1}s; {} changed",
                job.done,
                job.model_key,
                job.version,
                started.elapsed().as_secs_f64(),
                job.changed
            );
            Ok(())
        }
        ScoreCmd::Export { model, yaml } => {
            print!(
                "{}",
                app.export_scoring_model(by, &model, None, yaml)
                    .await
                    .map_err(describe)?
            );
            Ok(())
        }
        ScoreCmd::Import { file, activate } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
            let note = Some(format!("imported from {}", file.display()));
            let v = app
                .import_scoring_model(by, &text, yaml, note)
                .await
                .map_err(describe)?;
            println!("saved version {} of {}", v.version, v.definition.name);
            if activate {
                let key = leadline_domain::scoring::rules::ModelFile::from_toml(&text)
                    .map(|f| f.key)
                    .or_else(|_| {
                        leadline_domain::scoring::rules::ModelFile::from_yaml(&text).map(|f| f.key)
                    })
                    .map_err(|e| anyhow::anyhow!(e))?;
                app.put_scoring_version_in_force(by, &key, v.version)
                    .await
                    .map_err(describe)?;
                let job = app.rescore_all(by, &key, |_| {}).await.map_err(describe)?;
                println!(
                    "version {} in force; {} leads re-scored, {} changed",
                    v.version, job.done, job.changed
                );
            }
            Ok(())
        }
    }
}
