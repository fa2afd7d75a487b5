//! `file:///path?max_bytes=&backup_count=&json`: one line per sample, as upstream's private
//! Python logger writes it (`publisher/file.py`).
//!
//! The line is Python's `repr()` of `Sample.as_dict()` — not JSON — unless the `json` flag is
//! present, in which case it is `json.dumps(as_dict())`. Rotation follows
//! `logging.handlers.RotatingFileHandler`, and only when both `max_bytes` and `backup_count`
//! are given: before a line that would make the file reach `max_bytes`, `f.(n-1)` → `f.n`, …,
//! `f` → `f.1` (at most `backup_count` backups). The size is counted in bytes, where Python
//! counts the characters of the new line (identical for ASCII).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use sample::to_python_json;
use serde_json::Value;

use crate::wire::py_repr_into;
use crate::{Batch, BoxFuture, PublishError, Publisher};

/// Settings of a file publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// The log file.
    pub path: PathBuf,
    /// Rotate before the file would reach this size (with `backup_count`).
    pub max_bytes: u64,
    /// Number of rotated files kept (with `max_bytes`).
    pub backup_count: u32,
    /// Write JSON lines instead of Python reprs.
    pub json: bool,
}

struct Open {
    file: File,
    size: u64,
}

/// Writes samples to a local file.
pub struct FilePublisher {
    cfg: FileConfig,
    name: String,
    file: Mutex<Option<Open>>,
}

impl FilePublisher {
    /// Create; the file is opened (appending) on the first batch, so a missing directory is a
    /// retryable outage rather than a start-up failure.
    pub fn new(cfg: FileConfig, name: String) -> FilePublisher {
        FilePublisher {
            cfg,
            name,
            file: Mutex::new(None),
        }
    }

    /// One sample's line (without the newline).
    pub fn line(&self, s: &sample::Sample) -> String {
        let d = Value::Object(s.as_dict());
        if self.cfg.json {
            to_python_json(&d)
        } else {
            let mut out = String::with_capacity(512);
            py_repr_into(&mut out, &d);
            out
        }
    }

    fn rotating(&self) -> bool {
        self.cfg.max_bytes > 0 && self.cfg.backup_count > 0
    }

    fn open(path: &Path) -> std::io::Result<Open> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Open { file, size })
    }

    fn rollover(&self) -> std::io::Result<()> {
        let base = self.cfg.path.as_os_str().to_owned();
        let nth = |i: u32| {
            let mut p = base.clone();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        for i in (1..self.cfg.backup_count).rev() {
            let (src, dst) = (nth(i), nth(i + 1));
            if src.exists() {
                if dst.exists() {
                    std::fs::remove_file(&dst)?;
                }
                std::fs::rename(&src, &dst)?;
            }
        }
        let first = nth(1);
        if first.exists() {
            std::fs::remove_file(&first)?;
        }
        if self.cfg.path.exists() {
            std::fs::rename(&self.cfg.path, &first)?;
        }
        Ok(())
    }

    fn write_batch(&self, batch: &Batch) -> std::io::Result<()> {
        let mut guard = self.file.lock();
        for s in &batch.samples {
            let mut line = self.line(s);
            line.push('\n');
            if guard.is_none() {
                *guard = Some(Self::open(&self.cfg.path)?);
            }
            if self.rotating() {
                let size = guard.as_ref().map_or(0, |o| o.size);
                if size + line.len() as u64 >= self.cfg.max_bytes {
                    *guard = None;
                    self.rollover()?;
                    *guard = Some(Self::open(&self.cfg.path)?);
                }
            }
            if let Some(o) = guard.as_mut() {
                o.file.write_all(line.as_bytes())?;
                o.size += line.len() as u64;
            }
        }
        if let Some(o) = guard.as_mut() {
            o.file.flush()?;
        }
        Ok(())
    }
}

impl Publisher for FilePublisher {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // A write error may leave part of the batch written; a retry then repeats those
            // lines, which is the lesser evil for a log file than losing the rest.
            blocking(|| self.write_batch(batch)).map_err(|e| {
                *self.file.lock() = None;
                PublishError::Retryable(format!("{}: {e}", self.cfg.path.display()))
            })
        })
    }
}

/// Runs a short blocking file operation: `block_in_place` on a multi-thread runtime (so the
/// other tasks of this worker thread move on), inline on a current-thread runtime (where
/// `block_in_place` would panic).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
