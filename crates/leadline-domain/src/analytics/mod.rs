//! Analytics: the pure computations behind reports — multi-touch attribution of won
//! revenue, and the key figures (funnel, rates, lead velocity, win rate, weighted pipeline,
//! forecast error) with defined results for empty periods.

pub mod attribution;
pub mod kpi;
pub mod period;
