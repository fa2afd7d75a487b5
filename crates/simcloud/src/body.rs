//! Response bodies: a whole buffer, or a JSON document rendered chunk by chunk on demand.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A response body.
pub struct SimBody {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    Gen(Box<dyn Iterator<Item = Bytes> + Send>),
}

impl SimBody {
    /// A complete body.
    pub fn full(b: impl Into<Bytes>) -> Self {
        SimBody {
            inner: Inner::Full(Some(b.into())),
        }
    }

    /// No body.
    pub fn empty() -> Self {
        SimBody {
            inner: Inner::Full(None),
        }
    }

    /// A body produced lazily, one chunk per poll.
    pub fn chunks(it: impl Iterator<Item = Bytes> + Send + 'static) -> Self {
        SimBody {
            inner: Inner::Gen(Box::new(it)),
        }
    }

    /// Drains the body into one buffer (used only by the malformed/truncated faults).
    pub fn collect_now(self) -> Vec<u8> {
        match self.inner {
            Inner::Full(b) => b.map(|b| b.to_vec()).unwrap_or_default(),
            Inner::Gen(it) => it.flat_map(|b| b.to_vec()).collect(),
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let next = match &mut this.inner {
            Inner::Full(b) => b.take(),
            Inner::Gen(it) => it.next(),
        };
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.inner, Inner::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
            Inner::Gen(_) => SizeHint::default(),
        }
    }
}

/// What a listing knows when its last item has been written (for `next` links, counts).
#[derive(Clone, Copy, Debug)]
pub struct PageEnd {
    /// Items written.
    pub count: usize,
    /// Id of the last item written.
    pub last: Option<u128>,
    /// True if the page stopped because it reached its limit.
    pub full: bool,
}

/// Items rendered per chunk.
const CHUNK: usize = 200;

type Filter<T> = Box<dyn Fn(&T) -> bool + Send>;
type Render<T> = Box<dyn Fn(&T, &mut Vec<u8>) + Send>;
type Suffix = Box<dyn FnOnce(PageEnd) -> Vec<u8> + Send>;

/// A JSON listing rendered from a snapshot a chunk at a time: `prefix item,item,... suffix`.
/// Memory per request is one chunk, whatever the listing size.
pub struct Listing<T: Send + Sync + 'static> {
    map: Arc<BTreeMap<u128, T>>,
    after: Option<u128>,
    remaining: Option<usize>,
    filter: Filter<T>,
    render: Render<T>,
    prefix: Option<Vec<u8>>,
    suffix: Option<Suffix>,
    count: usize,
    last: Option<u128>,
    done: bool,
    full: bool,
}

impl<T: Send + Sync + 'static> Listing<T> {
    /// A listing of the items after `after` (exclusive), at most `limit`, that pass `filter`.
    pub fn new(
        map: Arc<BTreeMap<u128, T>>,
        after: Option<u128>,
        limit: Option<usize>,
        filter: impl Fn(&T) -> bool + Send + 'static,
        render: impl Fn(&T, &mut Vec<u8>) + Send + 'static,
        prefix: impl Into<Vec<u8>>,
        suffix: impl FnOnce(PageEnd) -> Vec<u8> + Send + 'static,
    ) -> Self {
        Listing {
            map,
            after,
            remaining: limit,
            filter: Box::new(filter),
            render: Box::new(render),
            prefix: Some(prefix.into()),
            suffix: Some(Box::new(suffix)),
            count: 0,
            last: None,
            done: false,
            full: false,
        }
    }
}

impl<T: Send + Sync + 'static> Iterator for Listing<T> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if let Some(p) = self.prefix.take() {
            return Some(Bytes::from(p));
        }
        if !self.done {
            let mut buf = Vec::with_capacity(CHUNK * 256);
            let mut n = 0;
            let range = match self.after {
                Some(a) => self
                    .map
                    .range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                None => self.map.range(..),
            };
            let mut exhausted = true;
            for (k, v) in range {
                if self.remaining == Some(0) {
                    self.full = true;
                    break;
                }
                self.after = Some(*k);
                if !(self.filter)(v) {
                    continue;
                }
                if self.count > 0 {
                    buf.push(b',');
                }
                (self.render)(v, &mut buf);
                self.count += 1;
                self.last = Some(*k);
                if let Some(r) = &mut self.remaining {
                    *r -= 1;
                    if *r == 0 {
                        self.full = true;
                        break;
                    }
                }
                n += 1;
                if n >= CHUNK {
                    exhausted = false;
                    break;
                }
            }
            if exhausted || self.full {
                self.done = true;
            }
            if !buf.is_empty() {
                return Some(Bytes::from(buf));
            }
        }
        let s = self.suffix.take()?;
        Some(Bytes::from(s(PageEnd {
            count: self.count,
            last: self.last,
            full: self.full,
        })))
    }
}

/// Writes a JSON value into a buffer.
pub fn write_json(v: &serde_json::Value, buf: &mut Vec<u8>) {
    // Serialising a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(buf, v);
}
