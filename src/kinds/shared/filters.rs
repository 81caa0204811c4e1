//! Which AuraIPFilters name which AuraInstances, kept from the filters'
//! watch, so that an AuraInstance can show the filters that apply to it
//! (names only) and be woken when that changes. Filters reach instances of
//! their own namespace only, so the index is by namespace.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use futures::stream::BoxStream;
use kube::runtime::reflector::ObjectRef;

use crate::api::AuraInstance;
use crate::kinds::shared::news::News;

/// (namespace, filter name) → the AuraInstance names it lists.
#[derive(Default)]
pub struct FilterIndex {
    named: RwLock<HashMap<(String, String), BTreeSet<String>>>,
    /// (namespace, instance name) of each instance whose filters changed.
    changed: News,
}

impl FilterIndex {
    /// The filter `name` of `namespace` now lists `instances` (empty: gone).
    pub fn set(&self, namespace: &str, name: &str, instances: BTreeSet<String>) {
        let key = (namespace.to_string(), name.to_string());
        let before = {
            let mut named = self.named.write().unwrap_or_else(|e| e.into_inner());
            let before = if instances.is_empty() {
                named.remove(&key)
            } else {
                named.insert(key, instances.clone())
            };
            before.unwrap_or_default()
        };
        for instance in before.symmetric_difference(&instances) {
            self.changed.tell_name(namespace, instance);
        }
    }

    /// The filters that name the AuraInstance `instance` of `namespace`, sorted.
    pub fn names_for(&self, namespace: &str, instance: &str) -> Vec<String> {
        let named = self.named.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = named
            .iter()
            .filter(|((ns, _), instances)| ns == namespace && instances.contains(instance))
            .map(|((_, filter), _)| filter.clone())
            .collect();
        names.sort();
        names
    }

    /// The AuraInstances whose list of filters changed.
    pub fn wakes(&self) -> BoxStream<'static, ObjectRef<AuraInstance>> {
        self.changed
            .wakes(|ns, name| vec![ObjectRef::new(name).within(ns)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn an_instance_sees_the_filters_of_its_namespace_that_name_it() {
        let index = FilterIndex::default();
        index.set("team", "office", set(&["orders", "users"]));
        index.set("team", "vpn", set(&["orders"]));
        index.set("other", "office", set(&["orders"]));
        assert_eq!(index.names_for("team", "orders"), vec!["office", "vpn"]);
        assert_eq!(index.names_for("team", "users"), vec!["office"]);
        assert!(index.names_for("team", "billing").is_empty());
        index.set("team", "office", set(&["users"]));
        assert_eq!(index.names_for("team", "orders"), vec!["vpn"]);
        index.set("team", "vpn", BTreeSet::new());
        assert!(index.names_for("team", "orders").is_empty());
        assert_eq!(index.names_for("other", "orders"), vec!["office"]);
    }
}
