//! On-disk spool: batches a publisher could not deliver while its memory queue was full.
//!
//! One file per batch, named `<sequence:020>-<samples>.batch`, so the order survives a
//! restart and the number of samples in each file is known without reading it (the
//! accounting must stay exact even for a corrupt file). A file is written to a temporary name
//! and renamed, so a crash never leaves half a batch under a real name. Total size is bounded;
//! when full, the oldest batches are evicted and reported as dropped.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use sample::{Metadata, Sample, SampleType, Timestamp, Volume};
use serde_json::{Map, Value};

use crate::Batch;

const FIRST_SEQ: u64 = 1 << 40;

/// One spooled batch on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    seq: u64,
    samples: usize,
    bytes: u64,
}

/// A bounded directory of batches, oldest first.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    total_bytes: u64,
    next_seq: u64,
}

/// What happened to a batch pushed into a full spool.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Samples of the oldest batches removed to make room.
    pub samples: usize,
    /// How many batches that was.
    pub batches: usize,
}

impl Spool {
    /// Open (creating) `dir`, picking up batches left by an earlier run, oldest first.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let mut entries = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".batch") {
                if let Some((seq, n)) = stem.split_once('-') {
                    if let (Ok(seq), Ok(samples)) = (seq.parse::<u64>(), n.parse::<usize>()) {
                        entries.push(Entry {
                            seq,
                            samples,
                            bytes: e.metadata()?.len(),
                        });
                    }
                }
            } else if name.ends_with(".tmp") {
                // A write interrupted by a crash: never renamed, so never counted.
                let _ = std::fs::remove_file(e.path());
            }
        }
        entries.sort_by_key(|e| e.seq);
        let total_bytes = entries.iter().map(|e| e.bytes).sum();
        // Fresh spools start high so that batches older than everything on disk (memory
        // spilled at shutdown) can be put in front.
        let next_seq = entries.last().map_or(FIRST_SEQ, |e| e.seq + 1);
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            entries: entries.into(),
            total_bytes,
            next_seq,
        })
    }

    fn path(&self, e: &Entry) -> PathBuf {
        self.dir.join(format!("{:020}-{}.batch", e.seq, e.samples))
    }

    /// Whether no batch is spooled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Batches spooled.
    pub fn batches(&self) -> usize {
        self.entries.len()
    }

    /// Samples spooled.
    pub fn samples(&self) -> usize {
        self.entries.iter().map(|e| e.samples).sum()
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Append a batch, evicting the oldest ones if the spool would exceed its bound.
    /// A batch larger than the whole bound is refused (`InvalidInput`).
    pub fn push(&mut self, batch: &Batch) -> io::Result<Evicted> {
        let body = encode_batch(batch);
        let bytes = body.len() as u64;
        if bytes > self.max_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a batch of {bytes} bytes exceeds the spool bound of {} bytes",
                    self.max_bytes
                ),
            ));
        }
        let mut evicted = Evicted::default();
        while self.total_bytes + bytes > self.max_bytes {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            let _ = std::fs::remove_file(self.path(&old));
            self.total_bytes -= old.bytes;
            evicted.samples += old.samples;
            evicted.batches += 1;
        }
        let e = Entry {
            seq: self.next_seq,
            samples: batch.samples.len(),
            bytes,
        };
        let tmp = self.dir.join(format!("{:020}.tmp", e.seq));
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, self.path(&e))?;
        self.next_seq += 1;
        self.total_bytes += bytes;
        self.entries.push_back(e);
        Ok(evicted)
    }

    /// Put a batch *before* everything spooled (it is older: memory spilled at shutdown).
    /// Not bounded by eviction: shutdown must not drop what it is saving.
    pub fn push_front(&mut self, batch: &Batch) -> io::Result<()> {
        let body = encode_batch(batch);
        let seq = self
            .entries
            .front()
            .map_or(self.next_seq, |e| e.seq)
            .saturating_sub(1);
        let e = Entry {
            seq,
            samples: batch.samples.len(),
            bytes: body.len() as u64,
        };
        let tmp = self.dir.join(format!("{:020}.tmp", e.seq));
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, self.path(&e))?;
        self.total_bytes += e.bytes;
        if self.entries.is_empty() {
            self.next_seq = seq + 1;
        }
        self.entries.push_front(e);
        Ok(())
    }

    /// Take the oldest batch off the spool. A file that cannot be read back is moved aside
    /// (`.corrupt`) and reported with its sample count, so it is accounted as dropped.
    pub fn pop_oldest(&mut self) -> Option<Result<Batch, (usize, String)>> {
        let e = self.entries.pop_front()?;
        self.total_bytes -= e.bytes;
        let path = self.path(&e);
        let result = std::fs::read(&path)
            .map_err(|err| err.to_string())
            .and_then(|b| decode_batch(&b).ok_or_else(|| "undecodable content".to_owned()));
        match result {
            Ok(batch) => {
                let _ = std::fs::remove_file(&path);
                Some(Ok(batch))
            }
            Err(why) => {
                let _ = std::fs::rename(&path, path.with_extension("corrupt"));
                Some(Err((e.samples, format!("{}: {why}", path.display()))))
            }
        }
    }
}

/// JSON lines, one sample each, every field needed to rebuild it.
fn encode_batch(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.samples.len() * 512);
    for s in &batch.samples {
        let mut m = s.as_dict();
        m.insert(
            "timestamp_us".into(),
            Value::from(s.timestamp.unix_micros()),
        );
        // Keep ints and floats apart across the round trip.
        m.insert(
            "volume_is_float".into(),
            Value::Bool(matches!(s.volume, Volume::Float(_))),
        );
        if let Ok(line) = serde_json::to_vec(&m) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    out
}

fn decode_batch(bytes: &[u8]) -> Option<Batch> {
    let mut samples = Vec::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let m: Map<String, Value> = serde_json::from_slice(line).ok()?;
        samples.push(decode_sample(&m)?);
    }
    Some(Batch { samples })
}

fn decode_sample(m: &Map<String, Value>) -> Option<Sample> {
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let volume = match m.get("volume")? {
        Value::Null => Volume::Missing,
        v if m.get("volume_is_float").and_then(Value::as_bool) == Some(true) => {
            Volume::Float(v.as_f64()?)
        }
        v => v
            .as_i64()
            .map(Volume::Int)
            .or_else(|| v.as_f64().map(Volume::Float))?,
    };
    Some(Sample {
        name: s("name")?.into(),
        sample_type: SampleType::parse(m.get("type")?.as_str()?)?,
        unit: s("unit")?.into(),
        volume,
        user_id: s("user_id"),
        user_name: s("user_name"),
        project_id: s("project_id"),
        project_name: s("project_name"),
        resource_id: s("resource_id")?,
        timestamp: Timestamp::from_unix_micros(m.get("timestamp_us")?.as_i64()?),
        resource_metadata: m
            .get("resource_metadata")
            .and_then(Value::as_object)
            .cloned()
            .map(Metadata::from)
            .unwrap_or_default(),
        source: s("source")?.into(),
        id: s("id")?,
        monotonic_time: m.get("monotonic_time").and_then(Value::as_f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sample_n;

    #[test]
    fn round_trip_order_restart_and_bound() {
        let dir = tempfile::tempdir().unwrap();
        let b1 = Batch {
            samples: vec![sample_n(1), sample_n(2)],
        };
        let b2 = Batch {
            samples: vec![sample_n(3)],
        };
        let mut sp = Spool::open(dir.path(), 1 << 20).unwrap();
        sp.push(&b1).unwrap();
        sp.push(&b2).unwrap();
        assert_eq!((sp.batches(), sp.samples()), (2, 3));
        drop(sp);
        // A restart finds both, oldest first, identical samples.
        let mut sp = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(sp.samples(), 3);
        assert_eq!(sp.pop_oldest().unwrap().unwrap().samples, b1.samples);
        assert_eq!(sp.pop_oldest().unwrap().unwrap().samples, b2.samples);
        assert!(sp.pop_oldest().is_none());
        // Bounded: pushing past the bound evicts the oldest.
        let size = encode_batch(&b1).len() as u64;
        let mut sp = Spool::open(dir.path(), size * 2 + 1).unwrap();
        for _ in 0..3 {
            sp.push(&b1).unwrap();
        }
        assert_eq!(sp.batches(), 2);
        let ev = sp.push(&b1).unwrap();
        assert_eq!(
            ev,
            Evicted {
                samples: 2,
                batches: 1
            }
        );
        assert!(sp
            .push(&Batch {
                samples: (0..100).map(sample_n).collect()
            })
            .is_err());
    }

    #[test]
    fn corrupt_files_are_set_aside_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{:020}-7.batch", 5)), b"not json\n").unwrap();
        std::fs::write(dir.path().join("00000000000000000009.tmp"), b"partial").unwrap();
        let mut sp = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(sp.samples(), 7);
        let (n, why) = sp.pop_oldest().unwrap().unwrap_err();
        assert_eq!(n, 7);
        assert!(why.contains("undecodable"), "{why}");
        assert!(dir.path().join(format!("{:020}-7.corrupt", 5)).exists());
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
    }
}
