//! Wakes told to every subscriber, each subscriber keeping the distinct items
//! told and not yet taken. A broadcast channel allocated its whole capacity up
//! front for each sender (1,024 to 4,096 slots: about 1 MiB in all, at rest,
//! issue 34) and dropped the oldest wakes past it. This holds only what is
//! pending, which is bounded by the objects there are, and drops none: a wake
//! told twice before it is taken is taken once.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::sync::Notify;

use super::locked;

/// The sender side: what is told goes to every live subscriber.
pub struct Wakes<T> {
    subscribers: Mutex<Vec<Arc<Pending<T>>>>,
}

struct Pending<T> {
    queue: Mutex<Queue<T>>,
    /// One waiter per subscriber, so a wake told before it waits is kept as a
    /// permit and not missed.
    told: Notify,
}

struct Queue<T> {
    order: VecDeque<T>,
    queued: HashSet<T>,
    closed: bool,
}

impl<T> Default for Wakes<T> {
    fn default() -> Self {
        Self {
            subscribers: Mutex::default(),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> Wakes<T> {
    /// Tells `item` to every subscriber (a subscriber whose stream was dropped
    /// is forgotten here).
    pub fn tell(&self, item: T) {
        for pending in self.live().iter() {
            let mut queue = locked(&pending.queue);
            if queue.queued.insert(item.clone()) {
                queue.order.push_back(item.clone());
                drop(queue);
                pending.told.notify_one();
            }
        }
    }

    /// What is told from now on, in order, each pending item once. Ends when
    /// the sender is dropped.
    pub fn subscribe(&self) -> impl Stream<Item = T> + Send + 'static + use<T> {
        let pending = Arc::new(Pending {
            queue: Mutex::new(Queue {
                order: VecDeque::new(),
                queued: HashSet::new(),
                closed: false,
            }),
            told: Notify::new(),
        });
        locked(&self.subscribers).push(pending.clone());
        futures::stream::unfold(pending, |pending| async move {
            loop {
                let next = {
                    let mut queue = locked(&pending.queue);
                    match queue.order.pop_front() {
                        Some(item) => {
                            queue.queued.remove(&item);
                            Some(Some(item))
                        }
                        None if queue.closed => Some(None),
                        None => None,
                    }
                };
                match next {
                    Some(Some(item)) => return Some((item, pending)),
                    Some(None) => return None,
                    None => pending.told.notified().await,
                }
            }
        })
    }

    /// The subscribers whose stream is still held (the stream holds the
    /// other reference to its queue).
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Pending<T>>>> {
        let mut subscribers = locked(&self.subscribers);
        subscribers.retain(|p| Arc::strong_count(p) > 1);
        subscribers
    }

    #[cfg(test)]
    fn subscribers(&self) -> usize {
        self.live().len()
    }
}

impl<T> Drop for Wakes<T> {
    fn drop(&mut self) {
        let subscribers = self
            .subscribers
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        for pending in subscribers.iter() {
            locked(&pending.queue).closed = true;
            pending.told.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::Duration;

    async fn next<T>(s: &mut (impl Stream<Item = T> + Unpin)) -> Option<T> {
        tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("a wake within 5 s")
    }

    async fn nothing_pending<T: std::fmt::Debug>(s: &mut (impl Stream<Item = T> + Unpin)) {
        let got = tokio::time::timeout(Duration::from_millis(50), s.next()).await;
        assert!(got.is_err(), "nothing should be pending, got {got:?}");
    }

    #[tokio::test]
    async fn every_subscriber_gets_each_wake_in_order() {
        let wakes = Wakes::default();
        let mut a = Box::pin(wakes.subscribe());
        let mut b = Box::pin(wakes.subscribe());
        for i in [1, 2, 3] {
            wakes.tell(i);
        }
        for s in [&mut a, &mut b] {
            assert_eq!(next(s).await, Some(1));
            assert_eq!(next(s).await, Some(2));
            assert_eq!(next(s).await, Some(3));
            nothing_pending(s).await;
        }
    }

    #[tokio::test]
    async fn a_wake_told_twice_before_it_is_taken_comes_once() {
        let wakes = Wakes::default();
        let mut s = Box::pin(wakes.subscribe());
        for i in [7, 8, 7, 7, 8] {
            wakes.tell(i);
        }
        assert_eq!(next(&mut s).await, Some(7));
        assert_eq!(next(&mut s).await, Some(8));
        nothing_pending(&mut s).await;
        // Taken, so it may come again.
        wakes.tell(7);
        assert_eq!(next(&mut s).await, Some(7));
    }

    #[tokio::test]
    async fn a_burst_past_any_fixed_capacity_loses_nothing() {
        let wakes = Wakes::default();
        let mut s = Box::pin(wakes.subscribe());
        for i in 0..10_000 {
            wakes.tell(i);
        }
        let got: Vec<i32> = s.as_mut().take(10_000).collect().await;
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken_by_a_later_tell() {
        let wakes = Arc::new(Wakes::default());
        let mut s = Box::pin(wakes.subscribe());
        let teller = wakes.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            teller.tell("x".to_string());
        });
        assert_eq!(next(&mut s).await.as_deref(), Some("x"));
        task.await.unwrap();
    }

    #[tokio::test]
    async fn only_what_is_told_after_subscribing_is_seen() {
        let wakes = Wakes::default();
        wakes.tell(1);
        let mut s = Box::pin(wakes.subscribe());
        wakes.tell(2);
        assert_eq!(next(&mut s).await, Some(2));
        nothing_pending(&mut s).await;
    }

    #[tokio::test]
    async fn a_dropped_subscriber_is_forgotten_and_the_stream_ends_with_the_sender() {
        let wakes = Wakes::default();
        let a = wakes.subscribe();
        let mut b = Box::pin(wakes.subscribe());
        assert_eq!(wakes.subscribers(), 2);
        drop(a);
        wakes.tell(1);
        assert_eq!(wakes.subscribers(), 1);
        assert_eq!(next(&mut b).await, Some(1));
        drop(wakes);
        assert_eq!(next(&mut b).await, None);
    }
}
