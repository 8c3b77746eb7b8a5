//! Where an acknowledged write spends its time, stage by stage, counted since the engine
//! started: waiting for its group's change-log transaction (`queue`), that transaction with
//! the synchronous standby's confirmation (`commit`), from the commit until this engine applied
//! it (`apply`, NOTIFY, reading the log, applying, publishing the image), and all of it
//! (`total`). Cumulative histograms, as Prometheus keeps them: a benchmark reads them before
//! and after its run and compares the difference.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde_json::{Value, json};

/// Upper bounds of the buckets, in milliseconds (the last bucket has none).
pub const BOUNDS_MS: [f64; 14] = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0, 500.0, 1000.0, 5000.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Queue,
    Commit,
    Apply,
    Total,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Queue, Stage::Commit, Stage::Apply, Stage::Total];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Queue => "queue",
            Stage::Commit => "commit",
            Stage::Apply => "apply",
            Stage::Total => "total",
        }
    }
}

#[derive(Default)]
struct Histogram {
    count: AtomicU64,
    sum_us: AtomicU64,
    /// Per bucket, not cumulative; one more than BOUNDS_MS for the rest.
    buckets: [AtomicU64; BOUNDS_MS.len() + 1],
}

#[derive(Default)]
pub struct WriteStages {
    stages: [Histogram; 4],
}

impl WriteStages {
    pub fn record(&self, stage: Stage, took: Duration) {
        let h = &self.stages[stage as usize];
        let ms = took.as_secs_f64() * 1000.0;
        let bucket = BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(BOUNDS_MS.len());
        h.count.fetch_add(1, Relaxed);
        h.sum_us.fetch_add(took.as_micros() as u64, Relaxed);
        h.buckets[bucket].fetch_add(1, Relaxed);
    }

    /// `{stage: {"count", "sum_ms", "buckets": [[upper bound ms or null, cumulative count], ...]}}`.
    pub fn to_json(&self) -> Value {
        let stage = |h: &Histogram| {
            let mut seen = 0;
            let buckets: Vec<Value> = h
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    seen += b.load(Relaxed);
                    json!([BOUNDS_MS.get(i), seen])
                })
                .collect();
            json!({"count": h.count.load(Relaxed), "sum_ms": h.sum_us.load(Relaxed) as f64 / 1000.0, "buckets": buckets})
        };
        Value::Object(Stage::ALL.iter().map(|s| (s.name().to_string(), stage(&self.stages[*s as usize]))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_cumulative_buckets() {
        let w = WriteStages::default();
        for ms in [0.2, 3.0, 3.5, 80.0, 9000.0] {
            w.record(Stage::Commit, Duration::from_secs_f64(ms / 1000.0));
        }
        let j = w.to_json();
        let c = &j["commit"];
        assert_eq!(c["count"], 5);
        assert!((c["sum_ms"].as_f64().unwrap() - 9086.7).abs() < 0.01, "{c}");
        let at = |bound: f64| c["buckets"].as_array().unwrap().iter().find(|b| b[0].as_f64() == Some(bound)).unwrap()[1].as_u64().unwrap();
        assert_eq!((at(0.5), at(2.0), at(5.0), at(75.0), at(100.0), at(5000.0)), (1, 1, 3, 3, 4, 4));
        assert_eq!(c["buckets"].as_array().unwrap().last().unwrap(), &json!([null, 5]));
        assert_eq!(j["queue"]["count"], 0);
    }
}
