//! CloudWatch Embedded Metric Format: one JSON document per set of metrics sharing dimensions.
//! Printed as a log line in Lambda, CloudWatch turns it into metrics without an API call.

use serde_json::{json, Map, Value};

/// A CloudWatch unit (the ones the functions use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// A count.
    Count,
    /// No unit (scores, ratios).
    None,
}

impl Unit {
    /// CloudWatch's name of the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
            Unit::None => "None",
        }
    }
}

/// Builds one EMF document.
#[derive(Debug, Clone)]
pub struct EmfDocument {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Map<String, Value>,
}

impl EmfDocument {
    /// An empty document in CloudWatch namespace `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        EmfDocument {
            namespace: namespace.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// A dimension (all of a document's dimensions form its one dimension set).
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    /// A metric; non-finite values are dropped (CloudWatch rejects them).
    pub fn metric(mut self, name: impl Into<String>, value: f64, unit: Unit) -> Self {
        if value.is_finite() {
            self.metrics.push((name.into(), value, unit));
        }
        self
    }

    /// A searchable property that is not a metric (e.g. the execution ARN).
    pub fn property(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Whether any metric was added (a document without one is not worth emitting).
    pub fn has_metrics(&self) -> bool {
        !self.metrics.is_empty()
    }

    /// The document, stamped with `timestamp_ms` (milliseconds since the Unix epoch).
    pub fn to_value(&self, timestamp_ms: i64) -> Value {
        let mut root = self.properties.clone();
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, value, _) in &self.metrics {
            root.insert(name.clone(), json!(value));
        }
        let dimension_names: Vec<&str> = self
            .dimensions
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let metric_definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": metric_definitions,
                }]
            }),
        );
        Value::Object(root)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_the_emf_shape() {
        let document = EmfDocument::new("mmp")
            .dimension("Dataset", "wine")
            .metric("ExecutionSucceeded", 1.0, Unit::Count)
            .metric("Broken", f64::NAN, Unit::None)
            .property("ExecutionArn", "arn:x")
            .to_value(1_700_000_000_000);
        assert_eq!(document["Dataset"], "wine");
        assert_eq!(document["ExecutionSucceeded"], 1.0);
        assert!(document.get("Broken").is_none());
        assert_eq!(document["ExecutionArn"], "arn:x");
        let metrics = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], "mmp");
        assert_eq!(metrics["Dimensions"], json!([["Dataset"]]));
        assert_eq!(
            metrics["Metrics"],
            json!([{"Name": "ExecutionSucceeded", "Unit": "Count"}])
        );
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
