//! The statuses SageMaker reports, as enums spelled exactly as its API spells them.
//!
//! Serde, [`std::fmt::Display`], `as_str` and [`std::str::FromStr`] all use SageMaker's names
//! (`Executing`, `PendingManualApproval`, …), so JSON documents, SQLite rows and events carry the
//! same strings as before these were types.

use serde::{Deserialize, Serialize};

/// A name that is not one of a status type's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownStatus {
    /// Which status type was parsed (`execution status`, `step status`, `approval status`).
    pub kind: &'static str,
    /// The text that did not name a value.
    pub value: String,
}

/// Defines a status enum whose every name is its variant's name.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[doc = concat!("`", stringify!($variant), "` (see the type's documentation).")]
                $variant
            ),*
        }

        impl $name {
            /// Every value, in SageMaker's documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// SageMaker's name of the value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }

            /// The value SageMaker names `name` (exact spelling), if any.
            pub fn parse(name: &str) -> Option<$name> {
                match name { $(stringify!($variant) => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(name: &str) -> Result<$name, UnknownStatus> {
                $name::parse(name).ok_or_else(|| UnknownStatus {
                    kind: $kind,
                    value: name.to_string(),
                })
            }
        }
    };
}

status_enum!(
    /// A pipeline execution's status (`DescribePipelineExecution`'s `PipelineExecutionStatus`):
    /// `Executing`; `Stopping` once a stop is asked for; then `Stopped`, `Failed` (a step
    /// failed, or the execution was interrupted; the reason is kept) or `Succeeded`.
    ExecutionStatus, "execution status" { Executing, Stopping, Stopped, Failed, Succeeded }
);

status_enum!(
    /// A step's status (`ListPipelineExecutionSteps`' `StepStatus`): `Starting` before its job
    /// runs, `Executing`, `Stopping`, then `Stopped`, `Failed` (with a reason) or `Succeeded`
    /// (with the properties later steps read).
    StepStatus, "step status" { Starting, Executing, Stopping, Stopped, Failed, Succeeded }
);

status_enum!(
    /// A model package's approval status (`ModelApprovalStatus`): the deployer serves the
    /// newest `Approved` version; `Rejected` is not deployable; `PendingManualApproval` awaits
    /// a decision.
    ApprovalStatus, "approval status" { Approved, Rejected, PendingManualApproval }
);

impl ExecutionStatus {
    /// Stopped, Failed and Succeeded never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Failed | Self::Succeeded)
    }
}

impl StepStatus {
    /// Stopped, Failed and Succeeded never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Failed | Self::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serde, Display, `as_str` and `FromStr` agree, and the JSON form is the bare name.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + std::str::FromStr
            + Serialize
            + for<'de> Deserialize<'de>,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for &value in all {
            let name = as_str(value);
            assert_eq!(value.to_string(), name);
            assert_eq!(name.parse::<T>().unwrap(), value);
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
    }

    #[test]
    fn names_are_sagemakers_everywhere() {
        round_trips(ExecutionStatus::ALL, ExecutionStatus::as_str);
        round_trips(StepStatus::ALL, StepStatus::as_str);
        round_trips(ApprovalStatus::ALL, ApprovalStatus::as_str);
        let names: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["Executing", "Stopping", "Stopped", "Failed", "Succeeded"]
        );
        let names: Vec<&str> = StepStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "Starting",
                "Executing",
                "Stopping",
                "Stopped",
                "Failed",
                "Succeeded"
            ]
        );
        assert_eq!(
            ApprovalStatus::PendingManualApproval.as_str(),
            "PendingManualApproval"
        );
    }

    #[test]
    fn other_spellings_are_refused_with_the_value_named() {
        let error = "succeeded".parse::<ExecutionStatus>().unwrap_err();
        assert_eq!(error.to_string(), "unknown execution status: \"succeeded\"");
        assert!("".parse::<StepStatus>().is_err());
        assert_eq!(ApprovalStatus::parse("approved"), None);
        assert!(serde_json::from_str::<StepStatus>("\"NotStarted\"").is_err());
    }

    #[test]
    fn only_ended_statuses_are_terminal() {
        let terminal: Vec<ExecutionStatus> = ExecutionStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                ExecutionStatus::Stopped,
                ExecutionStatus::Failed,
                ExecutionStatus::Succeeded
            ]
        );
        assert!(!StepStatus::Starting.is_terminal());
        assert!(!StepStatus::Stopping.is_terminal());
        assert!(StepStatus::Failed.is_terminal());
    }
}
