//! SageMaker single- and multi-model serving contract over a pluggable model runtime.
