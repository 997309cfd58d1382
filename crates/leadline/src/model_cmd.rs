//! `leadline model`: train the predictive model on the database's history, and its status.

use crate::cli::{ModelCmd, describe};
use indicatif::{ProgressBar, ProgressStyle};
use leadline_app::App;
use leadline_app::scoring::PredictionModel;
use leadline_domain::Principal;

/// Runs one `model` subcommand.
pub async fn run(app: &App, by: &Principal, what: ModelCmd) -> anyhow::Result<()> {
    match what {
        ModelCmd::Train { exclude } => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} leads")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("training");
            let m = app
                .train_prediction(by, &exclude, |m| {
                    bar.set_message("predicting every lead");
                    bar.set_length(m.total.max(0) as u64);
                    bar.set_position(m.done.max(0) as u64);
                })
                .await;
            bar.finish_and_clear();
            let m = m.map_err(describe)?;
            print_model(&m);
            println!("model {} is in force; {} leads predicted", m.id, m.done);
            Ok(())
        }
        ModelCmd::Status => {
            let s = app.prediction_status(by).await.map_err(describe)?;
            match &s.active {
                Some(m) => {
                    println!(
                        "model {} in force, trained {} by {}; {} leads predicted",
                        m.id,
                        m.started_at.format("%Y-%m-%d %H:%M UTC"),
                        m.started_by,
                        s.predicted_leads
                    );
                    print_model(m);
                }
                None => println!("no predictive model yet: run `leadline model train`"),
            }
            let kept_out: Vec<&str> = s
                .fields
                .iter()
                .filter(|f| f.excluded)
                .map(|f| f.label.as_str())
                .collect();
            if !kept_out.is_empty() {
                println!("not for prediction: {}", kept_out.join(", "));
            }
            if let Some(last) = s.runs.first().filter(|r| !r.active) {
                println!(
                    "latest run {} ({}){}",
                    last.id,
                    last.state,
                    last.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

fn print_model(m: &PredictionModel) {
    let Some(r) = &m.report else { return };
    println!(
        "trained on {} leads ({} converted); held-out AUC {:.3} on {} leads",
        r.leads, r.converted, r.holdout_auc, r.holdout
    );
    if !r.excluded.is_empty() {
        println!("left out: {}", r.excluded.join(", "));
    }
    println!("calibration (predicted → actual, leads):");
    for b in &r.calibration {
        println!("  {:.2} → {:.2}  {}", b.predicted, b.actual, b.leads);
    }
    println!("features that matter most:");
    for (name, v) in r.importance.iter().take(10) {
        println!("  {v:.3}  {name}");
    }
}
