//! The output of a child process, captured line by line while it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

/// How long [`Log::drained`] waits for the last lines of a process that exited.
const DRAIN: Duration = Duration::from_secs(5);

/// What a child process wrote, from any number of its streams.
#[derive(Default)]
pub struct Log {
    text: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Log {
    /// Reads `stream` into the log, a line at a time, until it closes (on
    /// the caller's runtime).
    pub fn capture(&mut self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let sink = self.text.clone();
        self.readers.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        }));
    }

    /// Everything so far (also after a reader panicked: it is read while a
    /// failing test unwinds).
    pub fn text(&self) -> String {
        self.text
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Once the process is gone: waits until every stream has closed, so that
    /// its last lines are in (at most a few seconds, should something else
    /// still hold a stream open), and returns everything.
    pub async fn drained(&mut self) -> String {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(DRAIN, reader).await;
        }
        self.text()
    }
}
