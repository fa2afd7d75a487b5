//! Rendered JSON of listing entries, kept for the next reader. Every agent of a fleet lists
//! every image and volume each cycle (partitioning happens after the listing), so at N agents
//! the same entry was rendered N times a cycle; on a benchmark box that shares its cores
//! with the agents, that work slowed the agents being measured. An entry is served from
//! here only while its inputs (the resource's state, the base URL, the microversion) are
//! unchanged, so churn and microversions render afresh. Bounded: two generations of half the
//! budget each, the older dropped when the newer fills (agents page through a listing
//! nearly in step, so a recent window is what gets hit).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::body::write_json;
use crate::model::{Kind, Res};
use crate::render::{Ctx, Mv};

/// How a resource of a kind becomes JSON (one of `render`'s functions).
pub(crate) type RenderFn = fn(&Ctx, &Res) -> serde_json::Value;

type Key = (Kind, usize, u128);

struct Entry {
    res: Res,
    mv: Mv,
    base: u64,
    json: Arc<[u8]>,
}

impl Entry {
    fn matches(&self, res: &Res, mv: Mv, base: u64) -> bool {
        self.res == *res && self.mv == mv && self.base == base
    }
}

#[derive(Default)]
struct Gens {
    cur: HashMap<Key, Entry>,
    old: HashMap<Key, Entry>,
    cur_bytes: usize,
}

/// The memo shared by every request of one simcloud.
pub(crate) struct RenderMemo {
    /// Bytes of JSON (plus bookkeeping) kept at most; 0 renders every time.
    budget: usize,
    gens: Mutex<Gens>,
}

/// Bookkeeping per entry besides its JSON (key, state, map slot), for the budget.
const OVERHEAD: usize = 128;

impl RenderMemo {
    pub(crate) fn new(budget: usize) -> Arc<RenderMemo> {
        Arc::new(RenderMemo {
            budget,
            gens: Mutex::new(Gens::default()),
        })
    }

    /// A listing's entry writer for resources of `kind` rendered by `f` in `ctx`.
    pub(crate) fn writer(
        self: &Arc<Self>,
        kind: Kind,
        f: RenderFn,
        ctx: Ctx,
    ) -> impl Fn(&Res, &mut Vec<u8>) + Send + 'static {
        let memo = self.clone();
        let base = {
            let mut h = std::hash::DefaultHasher::new();
            ctx.base.hash(&mut h);
            h.finish()
        };
        move |x, buf| memo.write(kind, f, &ctx, base, x, buf)
    }

    fn write(&self, kind: Kind, f: RenderFn, ctx: &Ctx, base: u64, x: &Res, buf: &mut Vec<u8>) {
        if self.budget == 0 {
            write_json(&f(ctx, x), buf);
            return;
        }
        let key = (kind, f as usize, x.id);
        if let Some(json) = self.get(&key, x, ctx.mv, base) {
            buf.extend_from_slice(&json);
            return;
        }
        let start = buf.len();
        write_json(&f(ctx, x), buf);
        let json: Arc<[u8]> = Arc::from(&buf[start..]);
        self.put(
            key,
            Entry {
                res: *x,
                mv: ctx.mv,
                base,
                json,
            },
        );
    }

    fn get(&self, key: &Key, x: &Res, mv: Mv, base: u64) -> Option<Arc<[u8]>> {
        let mut g = self.gens.lock();
        if let Some(e) = g.cur.get(key) {
            return e.matches(x, mv, base).then(|| e.json.clone());
        }
        // Read again after a generation turned over: keep it in the newer one.
        let e = g.old.remove(key)?;
        if !e.matches(x, mv, base) {
            return None;
        }
        let json = e.json.clone();
        g.cur_bytes += e.json.len() + OVERHEAD;
        g.cur.insert(*key, e);
        Some(json)
    }

    fn put(&self, key: Key, e: Entry) {
        let mut g = self.gens.lock();
        let size = e.json.len() + OVERHEAD;
        if g.cur_bytes + size > self.budget / 2 {
            g.old = std::mem::take(&mut g.cur);
            g.cur_bytes = 0;
        }
        g.cur_bytes += size;
        if let Some(prev) = g.cur.insert(key, e) {
            g.cur_bytes = g.cur_bytes.saturating_sub(prev.json.len() + OVERHEAD);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: u128, size: u32) -> Res {
        Res {
            id,
            project: 7,
            status: 0,
            status2: 0,
            size,
            parent: 0,
        }
    }

    fn ctx(base: &str, mv: Mv) -> Ctx {
        Ctx {
            base: base.into(),
            mv,
        }
    }

    fn render(c: &Ctx, r: &Res) -> serde_json::Value {
        serde_json::json!({"id": r.id.to_string(), "size": r.size, "base": c.base, "mv": c.mv.1})
    }

    fn out(w: &impl Fn(&Res, &mut Vec<u8>), r: &Res) -> serde_json::Value {
        let mut buf = Vec::new();
        w(r, &mut buf);
        serde_json::from_slice(&buf).unwrap()
    }

    /// A remembered entry is what rendering would give, for every input that changes the
    /// rendering: the resource's state, the base URL, the microversion.
    #[test]
    fn an_entry_is_served_only_while_its_inputs_are_unchanged() {
        let memo = RenderMemo::new(1 << 20);
        let ctxs = [
            ctx("http://127.0.0.1:1/volume", (3, 0)),
            ctx("http://127.0.0.1:1/internal/volume", (3, 0)),
            ctx("http://127.0.0.1:1/volume", (3, 60)),
        ];
        let writers: Vec<_> = ctxs
            .iter()
            .map(|c| memo.writer(Kind::Volume, render, c.clone()))
            .collect();
        for _ in 0..2 {
            for (c, w) in ctxs.iter().zip(&writers) {
                for r in [res(1, 10), res(1, 10), res(1, 11), res(2, 10), res(1, 10)] {
                    assert_eq!(out(w, &r), render(c, &r));
                }
            }
        }
        assert!(!memo.gens.lock().cur.is_empty(), "entries were kept");
    }

    /// The budget holds: a long listing keeps at most two half-budget generations.
    #[test]
    fn memory_stays_within_the_budget() {
        let budget = 64 * 1024;
        let memo = RenderMemo::new(budget);
        let w = memo.writer(Kind::Image, render, ctx("http://127.0.0.1:1/image", (0, 0)));
        for id in 0..10_000 {
            let mut buf = Vec::new();
            w(&res(id, 1), &mut buf);
            let g = memo.gens.lock();
            let held: usize = g
                .cur
                .values()
                .chain(g.old.values())
                .map(|e| e.json.len() + OVERHEAD)
                .sum();
            assert!(held <= budget, "{held} bytes held at entry {id}");
        }
    }

    /// A zero budget keeps nothing and still renders.
    #[test]
    fn a_zero_budget_renders_every_time() {
        let memo = RenderMemo::new(0);
        let w = memo.writer(Kind::Image, render, ctx("http://127.0.0.1:1/image", (0, 0)));
        assert_eq!(out(&w, &res(5, 3))["size"], 3);
        assert!(memo.gens.lock().cur.is_empty());
    }
}
