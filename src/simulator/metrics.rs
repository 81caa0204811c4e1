//! Customer metrics integration: the endpoint `GET
//! /tenants/{id}/metrics-integration` names, and the Prometheus text it
//! serves. Pure: the handlers pass in what the instances are.
//!
//! The metric names and labels are those the Aura documentation and public
//! clients of it show (`neo4j_aura_cpu_usage`, `neo4j_aura_cpu_limit`,
//! `neo4j_aura_storage_limit`, `neo4j_aura_out_of_memory_errors_total`,
//! `neo4j_database_count_node`; labels `aggregation`, `instance_id`,
//! `instance_mode`, `database`). The values are made up, deterministic from
//! the instance's size and data, so that tests can tell instances apart.

use std::fmt::Write;

/// Where the real service serves metrics (the simulator serves them itself
/// and names its own address instead, see `Simulator::start`).
pub const DEFAULT_METRICS_BASE: &str = "https://customer-metrics-api.neo4j.io";

/// The instance types metrics are offered for (the Aura documentation:
/// Virtual Dedicated Cloud, AuraDS Enterprise, Business Critical).
pub const METRICS_TYPES: &[&str] = &["enterprise-db", "enterprise-ds", "business-critical"];

/// `text/plain` in the Prometheus exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A project's metrics endpoint.
pub fn project_endpoint(base: &str, tenant_id: &str) -> String {
    format!("{base}/api/v1/{tenant_id}/metrics")
}

/// One instance's metrics endpoint (its `metrics_integration_url`).
pub fn instance_endpoint(base: &str, tenant_id: &str, instance_id: &str) -> String {
    format!("{base}/api/v1/{tenant_id}/{instance_id}/metrics")
}

/// What the metrics of one running instance are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub instance_id: String,
    /// `"8GB"`.
    pub memory: String,
    /// `"16GB"`.
    pub storage: String,
    /// Changes whenever the data does (see `lineage.rs`).
    pub data_version: String,
}

fn gigabytes(size: &str) -> u64 {
    size.trim().trim_end_matches("GB").parse().unwrap_or(0)
}

/// A stable number from a string (FNV-1a), for values that follow the data.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Cores: one per 4GB of memory, at least one (made up; Aura publishes no
/// table).
fn cpu_limit(memory: &str) -> u64 {
    gigabytes(memory).div_ceil(4).max(1)
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: fn(&Sample) -> String,
    database: bool,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "neo4j_aura_cpu_usage",
        help: "CPU usage (cores)",
        kind: "gauge",
        value: |s| {
            // 5% to 50% of the limit, following the data.
            let share = 5 + stable_hash(&s.data_version) % 46;
            format!("{:.3}", (cpu_limit(&s.memory) * share) as f64 / 100.0)
        },
        database: false,
    },
    Family {
        name: "neo4j_aura_cpu_limit",
        help: "CPU limit (cores)",
        kind: "gauge",
        value: |s| cpu_limit(&s.memory).to_string(),
        database: false,
    },
    Family {
        name: "neo4j_aura_storage_limit",
        help: "Storage limit (bytes)",
        kind: "gauge",
        value: |s| (gigabytes(&s.storage) << 30).to_string(),
        database: false,
    },
    Family {
        name: "neo4j_aura_out_of_memory_errors_total",
        help: "Out of memory errors",
        kind: "counter",
        value: |_| "0".to_string(),
        database: false,
    },
    Family {
        name: "neo4j_database_count_node",
        help: "The total number of nodes in the database",
        kind: "gauge",
        value: |s| (stable_hash(&s.data_version) % 1_000_000).to_string(),
        database: true,
    },
];

/// The exposition text: every family once, one series per instance, in
/// the order given. No instance: the families with no series.
pub fn exposition(samples: &[Sample]) -> String {
    let mut out = String::new();
    for f in FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for s in samples {
            let database = if f.database {
                ",database=\"neo4j\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{}{{aggregation=\"MAX\"{database},instance_id=\"{}\",instance_mode=\"PRIMARY\"}} {}",
                f.name,
                s.instance_id,
                (f.value)(s)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, memory: &str, storage: &str, data: &str) -> Sample {
        Sample {
            instance_id: id.into(),
            memory: memory.into(),
            storage: storage.into(),
            data_version: data.into(),
        }
    }

    /// The value of `name` for instance `id` in `text`.
    fn value(text: &str, name: &str, id: &str) -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| l.contains(&format!("instance_id=\"{id}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[test]
    fn values_follow_size_and_data() {
        // (memory, storage, cpu limit, storage bytes)
        let cases = [
            ("1GB", "2GB", 1.0, 2.0 * 1024f64.powi(3)),
            ("8GB", "16GB", 2.0, 16.0 * 1024f64.powi(3)),
            ("10GB", "20GB", 3.0, 20.0 * 1024f64.powi(3)),
            ("64GB", "128GB", 16.0, 128.0 * 1024f64.powi(3)),
        ];
        for (memory, storage, cpus, bytes) in cases {
            let text = exposition(&[sample("a", memory, storage, "dv-1")]);
            assert_eq!(
                value(&text, "neo4j_aura_cpu_limit", "a"),
                Some(cpus),
                "{memory}"
            );
            assert_eq!(value(&text, "neo4j_aura_storage_limit", "a"), Some(bytes));
            let usage = value(&text, "neo4j_aura_cpu_usage", "a").unwrap();
            assert!(usage > 0.0 && usage <= cpus / 2.0, "{usage} of {cpus}");
        }
        let nodes = |data: &str| {
            value(
                &exposition(&[sample("a", "8GB", "16GB", data)]),
                "neo4j_database_count_node",
                "a",
            )
        };
        assert_eq!(nodes("dv-1"), nodes("dv-1"));
        assert_ne!(nodes("dv-1"), nodes("dv-2"));
    }

    #[test]
    fn every_family_once_and_a_series_per_instance() {
        let text = exposition(&[
            sample("a", "8GB", "16GB", "dv-1"),
            sample("b", "16GB", "32GB", "dv-2"),
        ]);
        for f in FAMILIES {
            assert_eq!(
                text.matches(&format!("# TYPE {} ", f.name)).count(),
                1,
                "{}",
                f.name
            );
            assert_eq!(text.matches(&format!("{}{{", f.name)).count(), 2);
        }
        assert!(text.contains(
            "neo4j_database_count_node{aggregation=\"MAX\",database=\"neo4j\",instance_id=\"b\",instance_mode=\"PRIMARY\"}"
        ));
        let empty = exposition(&[]);
        assert!(empty.lines().all(|l| l.starts_with('#')), "{empty}");
    }

    #[test]
    fn endpoints_name_the_project_and_the_instance() {
        assert_eq!(
            project_endpoint("http://127.0.0.1:1", "t"),
            "http://127.0.0.1:1/api/v1/t/metrics"
        );
        assert_eq!(
            instance_endpoint(DEFAULT_METRICS_BASE, "t", "i"),
            "https://customer-metrics-api.neo4j.io/api/v1/t/i/metrics"
        );
    }
}
