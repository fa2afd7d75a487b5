//! Criterion benchmarks for the ring: lookups on Ceilometer's default shape (8 members ×
//! 32 partitions, 36-byte uuid keys) and building a 100-member ring.
//!
//! Compare with `benches/bench-tooz.sh`, which times Python tooz on the same shape.
//!
//! How the comparison is kept fair: both sides build the same ring (same member ids,
//! weight 1, 32 partitions), look up the same 10,000 keys (same generator), single
//! thread, and print the owners of the first 20 keys so one can see they agree; tooz
//! reports its best round, criterion its median. tooz has no batch API, so its number
//! is `get_nodes` in a loop for both comparisons. Run
//! `TOOZ_VENV=<venv with tooz> benches/bench-tooz.sh 15` right before/after
//! `cargo bench -p partitioner --bench ring -- lookup-8x32` (the box is shared, so
//! numbers move by ±10% with other load).
//!
//! Measured on the 2-core AMD EPYC box (default release profile, no `target-cpu`):
//!
//! | what                                  | lookups/s   | vs tooz |
//! |---------------------------------------|-------------|---------|
//! | tooz 9.1.0 `HashRing.get_nodes`       | 0.56 M/s    | 1×      |
//! | Python `hashlib.md5` alone (context)  | 3.0 M/s     | —       |
//! | `owner` (one key at a time)           | 7.2–7.3 M/s | ~13×    |
//! | `md5_only` (md-5 crate, one key)      | 6.8–8 M/s   | —       |
//! | `owners_of`, pages of 1024            | 18.5–20.9 M/s | 33–37× |
//! | `owned_by_self`, pages of 1024        | 19.3 M/s    | ~34×    |
//!
//! Single-key lookups cannot reach 30× tooz: md5 of one 36-byte key alone runs at
//! ~8 M/s (its 64 steps are one serial dependency chain). The batch lookups hash 8 keys
//! in lock-step (see `src/md5x.rs`) and clear 30× with a small margin.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use partitioner::{HashRing, Partitioner, DEFAULT_PARTITIONS};

/// Same generator as `tooz_get_nodes.py`: uuid4-looking text from a counter via md5, so
/// both sides hash the same kind (and the same set) of keys.
fn uuid_like(seed: &str, i: usize) -> String {
    let h = partitioner::key_position(format!("{seed}-{i}").as_bytes());
    let x = format!("{h:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

fn members(n: usize) -> Vec<String> {
    (0..n).map(|i| uuid_like("member", i)).collect()
}

fn lookups(c: &mut Criterion) {
    let ids = members(8);
    let ring = HashRing::with_members(DEFAULT_PARTITIONS, ids.iter().map(|id| (id, 1))).unwrap();
    let keys: Vec<String> = (0..10_000).map(|i| uuid_like("key", i)).collect();
    assert!(keys.iter().all(|k| k.len() == 36));
    // Same line as tooz_get_nodes.py prints, to see both sides agree on these keys.
    let owners: Vec<usize> = keys[..20]
        .iter()
        .map(|k| {
            let m = ring.owner(k.as_bytes()).unwrap();
            ids.iter().position(|id| id.as_bytes() == m.id()).unwrap()
        })
        .collect();
    println!("owner index of first 20 keys: {owners:?}");
    let mut group = c.benchmark_group("lookup-8x32");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("owner", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for k in &keys {
                if ring.owner(black_box(k.as_bytes())).is_some() {
                    hits += 1;
                }
            }
            hits
        });
    });
    // Batch lookups, as the agent filters a page: 1024 keys per call, one reused buffer.
    let key_bytes: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    let mut out = Vec::with_capacity(1024);
    group.bench_function("owners_of_batch1024", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for page in key_bytes.chunks(1024) {
                out.clear();
                ring.owners_of(black_box(page).iter(), &mut out);
                hits += out.iter().filter(|o| o.is_some()).count();
            }
            hits
        });
    });
    // The agent's call: which of a page of 1024 resources are mine?
    let me = Partitioner::from_weights(&ids[0], DEFAULT_PARTITIONS, ids.iter().map(|id| (id, 1)))
        .unwrap();
    let mut mine = Vec::with_capacity(1024);
    group.bench_function("owned_by_self_batch1024", |b| {
        b.iter(|| {
            let mut count = 0usize;
            for page in key_bytes.chunks(1024) {
                mine.clear();
                me.owned_by_self(black_box(page).iter(), &mut mine);
                count += mine.iter().filter(|&&m| m).count();
            }
            count
        });
    });
    // md5 alone: the floor for any single-key tooz-compatible lookup.
    group.bench_function("md5_only", |b| {
        b.iter(|| {
            keys.iter().fold(0u128, |acc, k| {
                acc ^ partitioner::key_position(black_box(k.as_bytes()))
            })
        });
    });
    group.bench_function("belongs_to", |b| {
        b.iter(|| {
            keys.iter()
                .filter(|k| ring.belongs_to(black_box(&ids[0]), black_box(k.as_bytes())))
                .count()
        });
    });
    group.bench_function("get_nodes_replicas1", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| {
                    ring.get_nodes::<&str>(black_box(k.as_bytes()), &[], 1)
                        .len()
                })
                .sum::<usize>()
        });
    });
    group.finish();
}

fn build(c: &mut Criterion) {
    let ids = members(100);
    c.bench_function("build-100x32", |b| {
        b.iter(|| {
            HashRing::with_members(DEFAULT_PARTITIONS, ids.iter().map(|id| (black_box(id), 1)))
                .unwrap()
        });
    });
    c.bench_function("add-one-to-99x32", |b| {
        let base =
            HashRing::with_members(DEFAULT_PARTITIONS, ids[..99].iter().map(|id| (id, 1))).unwrap();
        b.iter(|| {
            let mut ring = base.clone();
            ring.add_member(black_box(&ids[99]), 1).unwrap();
            ring
        });
    });
}

criterion_group!(benches, lookups, build);
criterion_main!(benches);
