//! Keeping sends to the same room in the order their requests arrived, while requests for
//! other rooms (and probes, stats, ...) run concurrently.
//!
//! Each key (a room) has a queue of turns. A turn is taken synchronously when the request
//! is read, so turns follow input order; the handler then waits for the previous turn of
//! its key to finish before it posts.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Prune finished queues once the map holds this many keys.
const PRUNE_AT: usize = 1024;

/// Per-key FIFO turns.
#[derive(Debug, Default)]
pub struct KeyedOrder {
    tails: Mutex<HashMap<String, oneshot::Receiver<()>>>,
}

/// A place in one key's queue. Dropping it lets the next turn run.
#[derive(Debug)]
pub struct Turn {
    previous: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Turn {
    /// Waits until every earlier turn of the same key has finished.
    pub async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            // An error only means the previous turn was dropped: it is finished.
            let _ = previous.await;
        }
    }

    /// Whether every earlier turn of the same key has already finished, without waiting.
    /// Lets a caller skip spawning a task when it would not have to wait.
    pub fn try_ready(&mut self) -> bool {
        match &mut self.previous {
            None => true,
            Some(previous) => match previous.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => false,
                // Sent or dropped: the previous turn is over.
                _ => {
                    self.previous = None;
                    true
                }
            },
        }
    }
}

impl KeyedOrder {
    /// Takes the next turn for `key`. Call this in input order.
    pub fn enqueue(&self, key: &str) -> Turn {
        let (done, rx) = oneshot::channel();
        let mut tails = self
            .tails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tails.len() >= PRUNE_AT {
            // A queue whose last turn is finished can be forgotten.
            tails.retain(|_, tail| {
                matches!(tail.try_recv(), Err(oneshot::error::TryRecvError::Empty))
            });
        }
        let previous = tails.insert(key.to_owned(), rx);
        Turn {
            previous,
            _done: done,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turns_of_one_key_run_in_enqueue_order() {
        let order = KeyedOrder::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..5u64 {
            let mut turn = order.enqueue("room");
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                // Later turns sleep less, so without ordering they would finish first.
                tokio::time::sleep(Duration::from_millis(50 - i * 10)).await;
                turn.wait().await;
                log.lock().unwrap().push(i);
                drop(turn);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn other_keys_do_not_wait() {
        let order = KeyedOrder::default();
        let _blocking = order.enqueue("a");
        let mut other = order.enqueue("b");
        tokio::time::timeout(Duration::from_secs(5), other.wait())
            .await
            .expect("a turn on another key must not wait");
    }

    #[test]
    fn try_ready_tells_whether_earlier_turns_are_done() {
        let order = KeyedOrder::default();
        let first = order.enqueue("a");
        let mut second = order.enqueue("a");
        let mut elsewhere = order.enqueue("b");
        assert!(elsewhere.try_ready());
        assert!(!second.try_ready());
        drop(first);
        assert!(second.try_ready());
        assert!(second.try_ready(), "stays ready");
    }

    #[test]
    fn finished_queues_are_pruned() {
        let order = KeyedOrder::default();
        for i in 0..(PRUNE_AT + 10) {
            drop(order.enqueue(&format!("room-{i}")));
        }
        assert!(order.tails.lock().unwrap().len() < PRUNE_AT);
    }
}
