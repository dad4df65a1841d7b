//! Offline checks of the Terraform configuration against the code it deploys (tests only).
