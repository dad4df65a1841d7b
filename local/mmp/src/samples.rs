//! The sample datasets, built into the binary so that `mmp demo` runs from anywhere.

/// One sample dataset: its name (the bucket's `datasets/<name>/` prefix), CSV and optional
/// per-dataset pipeline settings.
pub struct Sample {
    pub name: &'static str,
    pub file_name: &'static str,
    pub csv: &'static str,
    pub settings: Option<&'static str>,
}

pub const SAMPLES: [Sample; 3] = [
    Sample {
        name: "breast-cancer",
        file_name: "breast-cancer.csv",
        csv: include_str!("../../../datasets/breast-cancer/breast-cancer.csv"),
        settings: None,
    },
    Sample {
        name: "wine",
        file_name: "wine.csv",
        csv: include_str!("../../../datasets/wine/wine.csv"),
        settings: None,
    },
    Sample {
        name: "diabetes",
        file_name: "diabetes.csv",
        csv: include_str!("../../../datasets/diabetes/diabetes.csv"),
        settings: Some(include_str!("../../../datasets/diabetes/pipeline.json")),
    },
];

impl Sample {
    /// The first `n` data rows without their header and target column: what a client sends.
    pub fn feature_rows(&self, target: &str, n: usize) -> Vec<String> {
        let mut lines = self.csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let target_at = header.iter().position(|h| *h == target);
        lines
            .take(n)
            .map(|line| {
                line.split(',')
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != target_at)
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }
}
