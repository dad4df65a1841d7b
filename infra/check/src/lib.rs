//! Offline checks of the Terraform configuration in `infra/` against the code it deploys.
//!
//! The provider registry is out of reach where this runs, so `terraform validate` cannot be
//! used. Instead the configuration is parsed with a real HCL parser ([`hcl`]) and the tests in
//! `tests/` read it as data: which environment each function gets, which artifacts are
//! deployed, which event patterns the rules use and which actions each role is granted.

pub mod config;
pub mod expr;
pub mod functions;
pub mod iam;
pub mod template;

pub use config::{Config, Error};
