//! Configuration, naming rules, routing table, event types, ports and adapters shared by the
//! Lambda functions and the local runtime.
//!
//! The handlers are generic over the ports in [`ports`]; the Lambda binaries wire the AWS SDK
//! adapters in `aws` (feature `aws`), the local runtime (`mmp`) wires its own. Both run the same
//! [`contract`] suite (feature `contract-tests`) against their adapters.
#![warn(missing_docs)]

pub mod config;
pub mod emf;
pub mod error;
pub mod events;
pub mod naming;
pub mod pattern;
pub mod ports;
pub mod retry;
pub mod routing;
pub mod telemetry;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "contract-tests")]
pub mod contract;
#[cfg(feature = "contract-tests")]
pub mod fakes;
#[cfg(feature = "contract-tests")]
pub mod registry_admin;

pub use error::PortError;
