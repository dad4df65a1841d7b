//! Configuration, naming rules, routing table, event types, ports and adapters shared by the Lambda functions and the local runtime.
