//! `POST /instances/sizing` and `POST /graph-analytics/sessions/sizing`:
//! a memory estimate from the shape of a graph. Aura publishes no formula;
//! this one is made up, deterministic, and lands on the documented examples
//! (1M nodes and 5M relationships: an instance of 14GB at least, 16GB
//! recommended; a session of 6GB estimated, 8GB recommended). Pure.

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ApiError;

const GIB: f64 = (1u64 << 30) as f64;

/// Session sizes, GB, smallest first.
pub const SESSION_SIZES: &[u32] = &[2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384];

/// The instance types `POST /instances/sizing` answers for (the spec).
pub const SIZED_INSTANCE_TYPES: &[&str] = &["enterprise-ds", "professional-ds"];

/// The graph a sizing request describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphShape {
    pub node_count: u64,
    pub relationship_count: u64,
    pub node_property_count: u64,
    pub node_label_count: u64,
    pub relationship_property_count: u64,
    /// Distinct categories: each adds working memory.
    pub algorithm_categories: Vec<String>,
}

fn count(obj: &Map<String, Value>, field: &str, required: bool) -> Result<u64, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) if required => {
            Err(ApiError::field(field, format!("{field} is required")))
        }
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::field(field, format!("{field} must be a whole number, 0 or more"))
        }),
    }
}

/// Reads a sizing body: `node_count` and `relationship_count` required,
/// the other counts optional (0), `algorithm_categories` a list of strings.
pub fn parse_shape(obj: &Map<String, Value>) -> Result<GraphShape, ApiError> {
    let mut categories: Vec<String> = match obj.get("algorithm_categories") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ApiError::field(
                    "algorithm_categories",
                    "algorithm_categories must be a list of strings",
                )
            })?,
        Some(_) => {
            return Err(ApiError::field(
                "algorithm_categories",
                "algorithm_categories must be a list of strings",
            ));
        }
    };
    categories.sort();
    categories.dedup();
    Ok(GraphShape {
        node_count: count(obj, "node_count", true)?,
        relationship_count: count(obj, "relationship_count", true)?,
        node_property_count: count(obj, "node_property_count", false)?,
        node_label_count: count(obj, "node_label_count", false)?,
        relationship_property_count: count(obj, "relationship_property_count", false)?,
        algorithm_categories: categories,
    })
}

fn algorithm_factor(shape: &GraphShape) -> f64 {
    1.0 + 0.15 * shape.algorithm_categories.len() as f64
}

/// Whole GiB, rounded up, at least 1.
fn whole_gib(bytes: f64) -> u32 {
    ((bytes / GIB).ceil() as u32).max(1)
}

/// The smallest size that holds `gb`, else the largest (`sizes` sorted).
fn fitting(sizes: &[u32], gb: u32) -> u32 {
    sizes
        .iter()
        .copied()
        .find(|s| *s >= gb)
        .or_else(|| sizes.last().copied())
        .unwrap_or(gb)
}

/// `POST /graph-analytics/sessions/sizing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSizing {
    pub estimated_memory: String,
    pub recommended_size: String,
}

pub fn session_sizing(shape: &GraphShape) -> SessionSizing {
    let per_node = 64 + 8 * (shape.node_property_count + shape.node_label_count);
    let per_relationship = 48 + 8 * shape.relationship_property_count;
    let bytes = (shape.node_count as f64 * per_node as f64
        + shape.relationship_count as f64 * per_relationship as f64)
        * algorithm_factor(shape);
    let estimated = whole_gib(bytes);
    SessionSizing {
        estimated_memory: format!("{estimated}GB"),
        recommended_size: format!("{}GB", fitting(SESSION_SIZES, estimated)),
    }
}

/// `POST /instances/sizing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSizing {
    pub did_exceed_maximum: bool,
    pub min_required_memory: String,
    pub recommended_size: String,
}

/// Heap and page cache the database needs beside the graph, GB.
const INSTANCE_OVERHEAD_GB: u32 = 2;

/// `sizes`: the memory sizes (GB) the project offers the type, any order.
pub fn instance_sizing(shape: &GraphShape, sizes: &[u32]) -> InstanceSizing {
    let mut sizes = sizes.to_vec();
    sizes.sort_unstable();
    sizes.dedup();
    let bytes = (shape.node_count as f64 * 2000.0 + shape.relationship_count as f64 * 1500.0)
        * algorithm_factor(shape);
    let min = whole_gib(bytes) + INSTANCE_OVERHEAD_GB;
    InstanceSizing {
        did_exceed_maximum: sizes.last().is_none_or(|max| min > *max),
        min_required_memory: format!("{min}GB"),
        recommended_size: format!("{}GB", fitting(&sizes, min)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(v: Value) -> Result<GraphShape, ApiError> {
        parse_shape(v.as_object().unwrap())
    }

    #[test]
    fn bodies_are_read_and_checked() {
        // (body, field refused)
        let cases = [
            (json!({"relationship_count": 1}), Some("node_count")),
            (json!({"node_count": 1}), Some("relationship_count")),
            (
                json!({"node_count": -1, "relationship_count": 1}),
                Some("node_count"),
            ),
            (
                json!({"node_count": "1", "relationship_count": 1}),
                Some("node_count"),
            ),
            (
                json!({"node_count": 1, "relationship_count": 1, "algorithm_categories": [1]}),
                Some("algorithm_categories"),
            ),
            (
                json!({"node_count": 1, "relationship_count": 1, "algorithm_categories": "x"}),
                Some("algorithm_categories"),
            ),
            (json!({"node_count": 0, "relationship_count": 0}), None),
        ];
        for (body, field) in cases {
            match field {
                Some(f) => assert_eq!(
                    shape(body.clone()).unwrap_err().field_name(),
                    Some(f),
                    "{body}"
                ),
                None => assert!(shape(body).is_ok()),
            }
        }
        let s = shape(json!({"node_count": 1, "relationship_count": 2,
            "algorithm_categories": ["similarity", "similarity", "centrality"]}))
        .unwrap();
        assert_eq!(s.algorithm_categories, vec!["centrality", "similarity"]);
    }

    #[test]
    fn the_documented_examples_come_out() {
        let session = shape(json!({"node_count": 1_000_000, "node_property_count": 512,
            "node_label_count": 3, "relationship_count": 5_000_000,
            "relationship_property_count": 5,
            "algorithm_categories": ["similarity", "community-detection"]}))
        .unwrap();
        assert_eq!(
            session_sizing(&session),
            SessionSizing {
                estimated_memory: "6GB".into(),
                recommended_size: "8GB".into()
            }
        );
        let instance = shape(
            json!({"node_count": 1_000_000, "relationship_count": 5_000_000,
            "algorithm_categories": ["pathfinding", "community-detection"]}),
        )
        .unwrap();
        let pro_ds = [2, 4, 8, 16, 24, 32, 48, 64];
        assert_eq!(
            instance_sizing(&instance, &pro_ds),
            InstanceSizing {
                did_exceed_maximum: false,
                min_required_memory: "14GB".into(),
                recommended_size: "16GB".into()
            }
        );
    }

    #[test]
    fn estimates_grow_with_the_graph_and_cap_at_the_largest_size() {
        // (nodes, relationships, session estimate, instance minimum)
        let cases = [
            (0, 0, "1GB", "3GB"),
            (100_000, 100_000, "1GB", "3GB"),
            (10_000_000, 50_000_000, "3GB", "91GB"),
        ];
        for (n, r, session, instance) in cases {
            let s = GraphShape {
                node_count: n,
                relationship_count: r,
                ..Default::default()
            };
            assert_eq!(session_sizing(&s).estimated_memory, session, "{n} {r}");
            assert_eq!(instance_sizing(&s, &[8, 16]).min_required_memory, instance);
        }
        let huge = GraphShape {
            node_count: 10_000_000_000,
            relationship_count: 0,
            ..Default::default()
        };
        let i = instance_sizing(&huge, &[64, 8, 16]);
        assert!(i.did_exceed_maximum);
        assert_eq!(i.recommended_size, "64GB");
        assert_eq!(session_sizing(&huge).recommended_size, "384GB");
    }
}
