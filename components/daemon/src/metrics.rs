//! `/metrics` of the daemons: what they report is read from their state at each scrape, so a
//! scrape builds a fresh `prometheus-client` registry of gauges and encodes it in the
//! Prometheus text format 0.0.4 (the format every Prometheus accepts, with its content type).
//!
//! Only gauges: the daemons report levels and positions they read (serving, log position, WAL
//! position), not events they count. prometheus-client's counters are OpenMetrics counters
//! whose samples take a `_total` suffix, which would rename the published metrics.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of [`Scrape::text`].
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A metric's labels, e.g. `[("scope", "main")]`.
pub type Labels = Vec<(&'static str, String)>;

type U64Gauge = Gauge<u64, AtomicU64>;

/// One scrape's metrics.
#[derive(Default)]
pub struct Scrape {
    registry: Registry,
}

impl Scrape {
    pub fn new() -> Scrape {
        Scrape::default()
    }

    /// A gauge without labels. `help` is one sentence without its final period.
    pub fn gauge(&mut self, name: &str, help: &str, value: u64) {
        let g = U64Gauge::default();
        g.set(value);
        self.registry.register(name, help, g);
    }

    /// A gauge family with one sample per label set (none when `samples` is empty).
    pub fn gauges(&mut self, name: &str, help: &str, samples: impl IntoIterator<Item = (Labels, u64)>) {
        let family = Family::<Labels, U64Gauge>::default();
        for (labels, value) in samples {
            family.get_or_create(&labels).set(value);
        }
        self.registry.register(name, help, family);
    }

    /// The exposition text (`# HELP`, `# TYPE` and the samples of each metric).
    pub fn text(&self) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_with_and_without_labels() {
        let mut s = Scrape::new();
        s.gauge("x_up", "1 when up", 1);
        s.gauges("x_cells", "Cells per cube", [(vec![("cube", "m.c".to_string())], 7)]);
        assert_eq!(
            s.text(),
            "# HELP x_up 1 when up.\n# TYPE x_up gauge\nx_up 1\n# HELP x_cells Cells per cube.\n# TYPE x_cells gauge\nx_cells{cube=\"m.c\"} 7\n"
        );
    }
}
