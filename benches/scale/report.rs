//! The table printed at the end, and helpers to summarise numbers.

use std::collections::BTreeMap;

use aura_operator::simulator::Counters;

/// One line of the table: scenario, measure, value, target, verdict.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub scenario: String,
    pub measure: String,
    pub value: String,
    pub target: String,
    /// "ok", "MISS", or "" when there is no target.
    pub verdict: String,
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn add(&mut self, scenario: &str, measure: &str, value: impl Into<String>) {
        self.rows.push(Row {
            scenario: scenario.into(),
            measure: measure.into(),
            value: value.into(),
            target: String::new(),
            verdict: String::new(),
        });
    }

    pub fn target(
        &mut self,
        scenario: &str,
        measure: &str,
        value: impl Into<String>,
        target: &str,
        met: bool,
    ) {
        self.rows.push(Row {
            scenario: scenario.into(),
            measure: measure.into(),
            value: value.into(),
            target: target.into(),
            verdict: if met { "ok" } else { "MISS" }.into(),
        });
    }

    pub fn print(&self) {
        let w = |f: fn(&Row) -> &str, min: usize| {
            self.rows
                .iter()
                .map(|r| f(r).chars().count())
                .max()
                .unwrap_or(0)
                .max(min)
        };
        let (a, b, c, d) = (
            w(|r| &r.scenario, 8),
            w(|r| &r.measure, 7),
            w(|r| &r.value, 5),
            w(|r| &r.target, 6),
        );
        println!();
        println!(
            "{:a$}  {:b$}  {:>c$}  {:d$}  verdict",
            "scenario", "measure", "value", "target"
        );
        println!("{}", "-".repeat(a + b + c + d + 15));
        let mut last = String::new();
        for r in &self.rows {
            let s = if r.scenario == last {
                ""
            } else {
                r.scenario.as_str()
            };
            last = r.scenario.clone();
            println!(
                "{s:a$}  {:b$}  {:>c$}  {:d$}  {}",
                r.measure, r.value, r.target, r.verdict
            );
        }
        println!();
    }
}

/// Aura calls by kind between two counter snapshots.
pub fn calls_by_kind(after: &Counters, before: &Counters) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = ["token", "tenant", "list", "create", "get", "other"]
        .into_iter()
        .map(|k| (k.to_string(), 0))
        .collect();
    for (route, n) in &after.by_route {
        let n = n - before.by_route.get(route).copied().unwrap_or(0);
        let kind = match route.as_str() {
            "POST /oauth/token" => "token",
            "GET /v1/tenants" | "GET /v1/tenants/{tenant_id}" => "tenant",
            "GET /v1/instances" => "list",
            "POST /v1/instances" => "create",
            "GET /v1/instances/{id}" => "get",
            _ => "other",
        };
        *out.get_mut(kind).expect("known kind") += n;
    }
    out
}

pub fn per(n: u64, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// Sorted percentiles of a sample (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn fmt_kinds(kinds: &BTreeMap<String, u64>, n: usize) -> String {
    kinds
        .iter()
        .map(|(k, v)| format!("{k} {:.2}", per(*v, n)))
        .collect::<Vec<_>>()
        .join(", ")
}
