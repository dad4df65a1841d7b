//! Lambda handler: pipeline-trigger.
