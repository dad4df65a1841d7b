//! Lambda handler: metrics-reporter.
