//! Which objects of a kind changed, told to the kinds that wait on them (a
//! restore on its source snapshot, a clone on its source instance or
//! snapshot), so that they are woken instead of polling. The kind whose watch
//! sees the change tells; the waiting kind maps the name to its own objects.

use crate::reconciler::wakes::Wakes;
use futures::StreamExt;
use futures::stream::BoxStream;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

/// Changed objects of one kind, by (namespace, name).
#[derive(Default)]
pub struct News {
    tx: Wakes<(String, String)>,
}

impl News {
    /// `obj` changed.
    pub fn tell<K: kube::Resource>(&self, obj: &K) {
        self.tx
            .tell((obj.namespace().unwrap_or_default(), obj.name_any()));
    }

    /// The object `name` of `namespace` changed.
    pub fn tell_name(&self, namespace: &str, name: &str) {
        self.tx.tell((namespace.to_string(), name.to_string()));
    }

    /// The objects to wake for each change: `waiting(namespace, name)` names them.
    pub fn wakes<W, F>(&self, waiting: F) -> BoxStream<'static, ObjectRef<W>>
    where
        W: kube::Resource<DynamicType = ()> + 'static,
        F: Fn(&str, &str) -> Vec<ObjectRef<W>> + Send + Sync + 'static,
    {
        self.tx
            .subscribe()
            .flat_map(move |(ns, name)| futures::stream::iter(waiting(&ns, &name)))
            .boxed()
    }
}
