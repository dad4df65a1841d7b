//! Lambda handler: model-deployer.
