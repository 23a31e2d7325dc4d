//! What the crate's tests see it log: a buffer a `tracing` subscriber
//! writes into, for tests that hold a failure to its one warning. The
//! integration tests compile this file too (`tests/integration/support`).

use std::sync::{Arc, Mutex};

/// Text written by a `fmt` layer; clones share it.
#[derive(Clone, Default)]
pub(crate) struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `run` logs at any level, as plain text lines.
pub(crate) fn logs_of(run: impl FnOnce()) -> String {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || writer.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), run);
    buffer.text()
}
