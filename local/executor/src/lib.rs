//! Executes a SageMaker Pipeline definition on one machine, running every job with `mmp-container`.
