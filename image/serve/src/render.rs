//! Predictions → response bodies.
//!
//! CSV: one prediction per line (the label, or the value). JSON:
//! `{"predictions": [{"label": "M", "probabilities": {"B": 0.1, "M": 0.9}}, {"value": 3.2}]}`,
//! probabilities in the model's class order.

use std::io::Write;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::payload::Format;
use crate::port::Prediction;

/// Renders `predictions` in `format`.
pub fn render(format: Format, predictions: &[Prediction]) -> Vec<u8> {
    match format {
        Format::Csv => csv(predictions),
        Format::Json => json(predictions),
    }
}

fn csv(predictions: &[Prediction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(predictions.len() * 8);
    for prediction in predictions {
        match prediction {
            Prediction::Label { label, .. } => write_csv_field(&mut out, label),
            Prediction::Value(value) => {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "{value}");
            }
        }
        out.push(b'\n');
    }
    out
}

/// Quotes a label only when CSV needs it.
fn write_csv_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

fn json(predictions: &[Prediction]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + predictions.len() * 48);
    // Serializing plain strings and floats into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &Body(predictions));
    out
}

struct Body<'a>(&'a [Prediction]);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("predictions", &List(self.0))?;
        map.end()
    }
}

struct List<'a>(&'a [Prediction]);

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for prediction in self.0 {
            seq.serialize_element(&One(prediction))?;
        }
        seq.end()
    }
}

struct One<'a>(&'a Prediction);

impl Serialize for One<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Prediction::Label {
                label,
                probabilities,
            } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("label", label)?;
                map.serialize_entry("probabilities", &Probabilities(probabilities))?;
                map.end()
            }
            Prediction::Value(value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("value", value)?;
                map.end()
            }
        }
    }
}

/// Class → probability, in the model's class order.
struct Probabilities<'a>(&'a [(String, f64)]);

impl Serialize for Probabilities<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (class, probability) in self.0 {
            map.serialize_entry(class, probability)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(label: &str, probabilities: &[(&str, f64)]) -> Prediction {
        Prediction::Label {
            label: label.into(),
            probabilities: probabilities
                .iter()
                .map(|(c, p)| (c.to_string(), *p))
                .collect(),
        }
    }

    #[test]
    fn csv_has_one_prediction_per_line() {
        let body = render(
            Format::Csv,
            &[
                label("M", &[]),
                label("a,\"b\"", &[]),
                Prediction::Value(2.5),
                Prediction::Value(-1e-7),
            ],
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "M\n\"a,\"\"b\"\"\"\n2.5\n-0.0000001\n"
        );
    }

    #[test]
    fn json_keeps_class_order_and_values() {
        let body = render(
            Format::Json,
            &[
                label("z", &[("z", 0.75), ("a", 0.25)]),
                Prediction::Value(3.0),
                Prediction::Value(f64::NAN),
            ],
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"predictions":[{"label":"z","probabilities":{"z":0.75,"a":0.25}},{"value":3.0},{"value":null}]}"#
        );
    }
}
