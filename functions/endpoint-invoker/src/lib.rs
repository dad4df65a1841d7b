//! Lambda handler: endpoint-invoker.
