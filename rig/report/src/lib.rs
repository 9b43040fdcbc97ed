//! cutpoint's results: what one cut point produced, the append-only journal of a campaign,
//! and the reports built from journals.

pub mod model;

pub use model::*;
