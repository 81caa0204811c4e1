//! Data lineage: which data an instance holds and where it came from, so that
//! tests can assert that a restore, an overwrite or a clone moved the right
//! data (DESIGN §5). The simulator holds no real data: a *data version* stands
//! for the content, and changes whenever the content would.

use serde::{Deserialize, Serialize};

/// What put an instance's current data there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageEvent {
    /// A new, empty instance.
    Created,
    /// Someone wrote to it (`POST /admin/instances/{id}/write`).
    Write,
    /// One of its own snapshots was restored.
    Restore,
    /// Another instance's data (or one of its snapshots) replaced its own.
    Overwrite,
    /// Created as a copy of another instance (or of one of its snapshots).
    Clone,
}

/// One step of an instance's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageEntry {
    /// RFC 3339, when the operation was accepted.
    pub at: String,
    pub event: LineageEvent,
    /// The data version from then on.
    pub data_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot_id: Option<String>,
}

/// Where data comes from when it is copied in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    pub instance_id: String,
    pub snapshot_id: Option<String>,
    /// The source's data version at call time, or the snapshot's.
    pub data_version: String,
}

/// The answer of `GET /admin/instances/{id}/lineage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    pub instance_id: String,
    pub data_version: String,
    /// Oldest first.
    pub history: Vec<LineageEntry>,
}

/// An instance's data: its current version and how it got there.
#[derive(Debug, Clone)]
pub struct Data {
    version: String,
    history: Vec<LineageEntry>,
}

/// A fresh version, different from `old`: 8 random hex digits, which is
/// enough for tests to tell data apart without a global counter.
fn fresh_version(old: Option<&str>) -> String {
    loop {
        let v = format!("dv-{:08x}", rand::random::<u32>());
        if Some(v.as_str()) != old {
            return v;
        }
    }
}

impl Data {
    /// A new empty instance, or a clone of `source`.
    pub fn new(at: String, source: Option<DataSource>) -> Self {
        let mut data = Self {
            version: String::new(),
            history: Vec::new(),
        };
        match source {
            None => data.push(at, LineageEvent::Created, fresh_version(None), None, None),
            Some(src) => data.push(
                at,
                LineageEvent::Clone,
                src.data_version,
                Some(src.instance_id),
                src.snapshot_id,
            ),
        }
        data
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// New content written in place.
    pub fn write(&mut self, at: String) {
        let v = fresh_version(Some(&self.version));
        self.push(at, LineageEvent::Write, v, None, None);
    }

    /// Content replaced by one of the instance's own snapshots.
    pub fn restore(&mut self, at: String, snapshot_id: &str, version: String) {
        let sid = Some(snapshot_id.to_string());
        self.push(at, LineageEvent::Restore, version, None, sid);
    }

    /// Content replaced by a copy of another instance's.
    pub fn overwrite(&mut self, at: String, src: DataSource) {
        self.push(
            at,
            LineageEvent::Overwrite,
            src.data_version,
            Some(src.instance_id),
            src.snapshot_id,
        );
    }

    fn push(
        &mut self,
        at: String,
        event: LineageEvent,
        version: String,
        source_instance_id: Option<String>,
        source_snapshot_id: Option<String>,
    ) {
        self.version = version.clone();
        self.history.push(LineageEntry {
            at,
            event,
            data_version: version,
            source_instance_id,
            source_snapshot_id,
        });
    }

    pub fn to_lineage(&self, instance_id: &str) -> Lineage {
        Lineage {
            instance_id: instance_id.to_string(),
            data_version: self.version.clone(),
            history: self.history.clone(),
        }
    }
}
