//! Scoring: rule-based models that grade fit (who the lead is) and score engagement (what
//! they do, decaying over time), the explanation of every point, and back-testing a model
//! on the database's own history.

pub mod backtest;
pub mod engine;
pub mod predict;
pub mod qualification;
pub mod rules;
