//! The generations of samples and their pre-rendered expositions.
//!
//! Each polling interval has at most one *published* generation: the samples of its last
//! completed cycle, rendered once into both exposition formats. A scrape clones reference-
//! counted chunks of that text and never touches samples, locks that polling holds, or
//! OpenStack. A cycle being polled fills a *building* generation that replaces the published
//! one only when the cycle ends, so a scrape during a cycle sees the previous complete cycle,
//! and a series whose resource was not seen in the new cycle (deleted, or moved to another
//! agent by a membership change) is gone from the first scrape after that cycle's end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use sample::{Sample, Volume};

use crate::labels::{escape_help, metric_name, Schema};

/// Which exposition a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: timestamps in milliseconds.
    Text,
    /// OpenMetrics 1.0: timestamps in seconds, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of the body.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// From an `Accept` header: OpenMetrics when offered with a non-zero quality (Prometheus
    /// offers it first by default), else the text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            if params.next() != Some("application/openmetrics-text") {
                continue;
            }
            let zero = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if !zero {
                return Format::OpenMetrics;
            }
        }
        Format::Text
    }
}

/// A sample's value as kept until rendering: integers stay exact.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// One family (metric name) of a building generation.
struct FamilyBuild {
    schema: Schema,
    /// HELP text: the meter and its unit (from the family's first sample).
    help: String,
    /// Label text `{...}` → (value, timestamp µs). Keyed by the whole label set, so two
    /// samples of the same series in one cycle (two sources polling one meter) give one line.
    series: HashMap<String, (Num, i64)>,
}

/// The samples of one cycle of one interval, while it is polled.
#[derive(Default)]
struct Gen {
    families: HashMap<String, FamilyBuild>,
    /// Meter → its family's name, or `None` when the name clashes with another meter's
    /// label set: computed once per meter per cycle, not per sample.
    meters: HashMap<String, Option<String>>,
}

impl Gen {
    fn observe(&mut self, samples: &[Sample], stats: &mut Counters) {
        let mut labels = String::with_capacity(512);
        for s in samples {
            let num = match s.volume {
                Volume::Int(i) => Num::Int(i),
                Volume::Float(f) => Num::Float(f),
                // Upstream skips samples without a volume.
                Volume::Missing => {
                    stats.skipped_no_volume += 1;
                    continue;
                }
            };
            if !self.meters.contains_key(&*s.name) {
                let name = metric_name(&s.name);
                let schema = Schema::of(&s.name);
                let fam = self
                    .families
                    .entry(name.clone())
                    .or_insert_with(|| FamilyBuild {
                        schema: schema.clone(),
                        help: format!("Ceilometer meter {}, unit {}", s.name, s.unit),
                        series: HashMap::new(),
                    });
                // Two meters that map to one metric name (`a.b` and `a_b`) with different
                // first-segment labels: keep the family's label set fixed, drop the other.
                let ok = fam.schema == schema;
                self.meters.insert(s.name.to_string(), ok.then_some(name));
            }
            let Some(fam) = self
                .meters
                .get(&*s.name)
                .and_then(Option::as_ref)
                .and_then(|n| self.families.get_mut(n))
            else {
                stats.skipped_name_clash += 1;
                continue;
            };
            labels.clear();
            fam.schema.write_labels(&mut labels, s);
            fam.series
                .insert(labels.clone(), (num, s.timestamp.unix_micros()));
        }
    }

    fn series(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }

    /// Render every family into both formats (the expensive part: done once per cycle, off
    /// the scrape path and outside the exporter's lock).
    fn render(self) -> BTreeMap<String, Rendered> {
        let mut out = BTreeMap::new();
        let mut num = String::new();
        for (name, fam) in self.families {
            let mut rows: Vec<(String, (Num, i64))> = fam.series.into_iter().collect();
            rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let per_row: usize =
                rows.iter().map(|r| r.0.len()).sum::<usize>() + rows.len() * (name.len() + 40);
            let mut text = Vec::with_capacity(per_row);
            let mut om = Vec::with_capacity(per_row);
            for (labels, (value, ts)) in &rows {
                num.clear();
                write_num(&mut num, *value);
                for (buf, fmt) in [(&mut text, Format::Text), (&mut om, Format::OpenMetrics)] {
                    buf.extend_from_slice(name.as_bytes());
                    buf.extend_from_slice(labels.as_bytes());
                    buf.push(b' ');
                    buf.extend_from_slice(num.as_bytes());
                    buf.push(b' ');
                    write_ts(buf, *ts, fmt);
                    buf.push(b'\n');
                }
            }
            out.insert(
                name,
                Rendered {
                    help: fam.help,
                    series: rows.len(),
                    text: vec![Bytes::from(text)],
                    om: vec![Bytes::from(om)],
                },
            );
        }
        out
    }
}

fn write_num(out: &mut String, v: Num) {
    match v {
        Num::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Num::Float(f) if f.is_nan() => out.push_str("NaN"),
        Num::Float(f) if f == f64::INFINITY => out.push_str("+Inf"),
        Num::Float(f) if f == f64::NEG_INFINITY => out.push_str("-Inf"),
        // Shortest text that reads back as the same f64, never with an exponent.
        Num::Float(f) => {
            let _ = write!(out, "{f}");
        }
    }
}

/// The sample's timestamp: integer milliseconds (text format) or seconds with the
/// microseconds as a fraction (OpenMetrics).
fn write_ts(buf: &mut Vec<u8>, micros: i64, fmt: Format) {
    use std::io::Write as _;
    let _ = match fmt {
        Format::Text => write!(buf, "{}", micros.div_euclid(1000)),
        Format::OpenMetrics => {
            let sign = if micros < 0 { "-" } else { "" };
            let a = micros.unsigned_abs();
            let (s, us) = (a / 1_000_000, a % 1_000_000);
            if us == 0 {
                write!(buf, "{sign}{s}")
            } else {
                let frac = format!("{us:06}");
                write!(buf, "{sign}{s}.{}", frac.trim_end_matches('0'))
            }
        }
    };
}

/// A family of a published generation: pre-rendered lines in both formats. A takeover of an
/// already published cycle appends chunks rather than re-rendering.
#[derive(Clone)]
struct Rendered {
    help: String,
    series: usize,
    text: Vec<Bytes>,
    om: Vec<Bytes>,
}

/// An interval's published generation.
struct Published {
    k: u64,
    families: BTreeMap<String, Rendered>,
}

/// A cycle being polled (own share and takeovers count as separate polls).
struct Building {
    polls: usize,
    gen: Gen,
}

#[derive(Default)]
struct IntervalState {
    building: BTreeMap<u64, Building>,
    published: Option<Published>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    skipped_no_volume: u64,
    skipped_name_clash: u64,
    dropped_stale: u64,
    dropped_unopened: u64,
}

#[derive(Default)]
struct State {
    intervals: BTreeMap<u64, IntervalState>,
    counters: Counters,
}

/// What `/metrics` serves: chunks shared with the published generations.
#[derive(Default)]
struct Snapshot {
    text: Vec<Bytes>,
    om: Vec<Bytes>,
    text_len: usize,
    om_len: usize,
    series: usize,
    families: usize,
}

/// Figures for the agent's own metrics (admin listener) and for sizing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Series served now.
    pub series: usize,
    /// Metric families served now.
    pub families: usize,
    /// Bytes of the text-format body.
    pub text_bytes: usize,
    /// Bytes of the OpenMetrics body.
    pub openmetrics_bytes: usize,
    /// Series collected by cycles not yet ended.
    pub building_series: usize,
    /// Samples skipped because their volume is `None` (as upstream).
    pub skipped_no_volume: u64,
    /// Samples skipped because another meter already owns their metric name with another
    /// label set (`a.b` vs `a_b`).
    pub skipped_name_clash: u64,
    /// Cycles that ended after a newer cycle of their interval was published (discarded).
    pub dropped_stale: u64,
    /// Batches observed for a cycle that was never begun (a wiring bug; discarded).
    pub dropped_unopened: u64,
}

/// The exporter's shared state: cheap to clone, one per agent.
#[derive(Clone, Default)]
pub struct Exporter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Exporter {
    /// An exporter serving nothing yet.
    pub fn new() -> Exporter {
        Exporter::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps of whole entries: still consistent.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A poll of cycle `k` of `interval` starts: the agent's own share at the cycle's start
    /// (also when it is not a member of the cycle, so its old series go), or a takeover of a
    /// gone member's share. Every `begin_cycle` needs one [`Exporter::end_cycle`].
    pub fn begin_cycle(&self, interval: u64, k: u64) {
        let mut st = self.state();
        let iv = st.intervals.entry(interval).or_default();
        iv.building
            .entry(k)
            .or_insert_with(|| Building {
                polls: 0,
                gen: Gen::default(),
            })
            .polls += 1;
    }

    /// Samples polled for cycle `k` of `interval` (one batch, own share or takeover).
    pub fn observe(&self, interval: u64, k: u64, samples: &[Sample]) {
        let mut st = self.state();
        let State {
            intervals,
            counters,
        } = &mut *st;
        match intervals
            .get_mut(&interval)
            .and_then(|iv| iv.building.get_mut(&k))
        {
            Some(b) => b.gen.observe(samples, counters),
            None => counters.dropped_unopened += 1,
        }
    }

    /// A poll begun with [`Exporter::begin_cycle`] returned. When it is the last poll of that
    /// cycle, the cycle's samples are rendered and replace the interval's published
    /// generation at once; a takeover of the cycle already published adds its samples to it;
    /// a cycle older than the published one is discarded.
    pub fn end_cycle(&self, interval: u64, k: u64) {
        let gen = {
            let mut st = self.state();
            let Some(iv) = st.intervals.get_mut(&interval) else {
                return;
            };
            let Some(b) = iv.building.get_mut(&k) else {
                return;
            };
            b.polls = b.polls.saturating_sub(1);
            if b.polls > 0 {
                return;
            }
            match iv.building.remove(&k) {
                Some(b) => b.gen,
                None => return,
            }
        };
        // Render without the lock: batches of other cycles keep flowing meanwhile.
        let rendered = gen.render();
        let mut st = self.state();
        let State {
            intervals,
            counters,
        } = &mut *st;
        let iv = intervals.entry(interval).or_default();
        match &mut iv.published {
            Some(p) if p.k > k => {
                counters.dropped_stale += 1;
                return;
            }
            Some(p) if p.k == k => {
                for (name, r) in rendered {
                    match p.families.get_mut(&name) {
                        Some(f) => {
                            f.series += r.series;
                            f.text.extend(r.text);
                            f.om.extend(r.om);
                        }
                        None => {
                            p.families.insert(name, r);
                        }
                    }
                }
            }
            _ => {
                iv.published = Some(Published {
                    k,
                    families: rendered,
                });
            }
        }
        self.install(&st);
    }

    /// [`Exporter::end_cycle`] on tokio's blocking pool: rendering 200,000 series takes
    /// about 100 ms of CPU, which must not stall the runtime's workers (polling, scrapes).
    pub async fn end_cycle_blocking(&self, interval: u64, k: u64) {
        let me = self.clone();
        if tokio::task::spawn_blocking(move || me.end_cycle(interval, k))
            .await
            .is_err()
        {
            tracing::error!(
                interval,
                k,
                "Prometheus exporter: rendering a cycle panicked."
            );
        }
    }

    /// Forget an interval (a reload removed it): its series go at once.
    pub fn remove_interval(&self, interval: u64) {
        let mut st = self.state();
        if st.intervals.remove(&interval).is_some() {
            self.install(&st);
        }
    }

    /// Assemble the body from every interval's published families, one HELP/TYPE header per
    /// family even when several intervals poll the same meter, and swap it in.
    fn install(&self, st: &State) {
        let mut by_family: BTreeMap<&str, Vec<&Rendered>> = BTreeMap::new();
        for iv in st.intervals.values() {
            if let Some(p) = &iv.published {
                for (name, r) in &p.families {
                    by_family.entry(name).or_default().push(r);
                }
            }
        }
        let mut snap = Snapshot::default();
        for (name, parts) in by_family {
            let series: usize = parts.iter().map(|r| r.series).sum();
            if series == 0 {
                continue;
            }
            snap.series += series;
            snap.families += 1;
            let mut help = String::new();
            escape_help(&mut help, &parts[0].help);
            let text_head = format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
            let om_head = format!("# TYPE {name} gauge\n# HELP {name} {help}\n");
            snap.text.push(Bytes::from(text_head));
            snap.om.push(Bytes::from(om_head));
            for r in parts {
                snap.text.extend(r.text.iter().cloned());
                snap.om.extend(r.om.iter().cloned());
            }
        }
        snap.om.push(Bytes::from_static(b"# EOF\n"));
        snap.text_len = snap.text.iter().map(Bytes::len).sum();
        snap.om_len = snap.om.iter().map(Bytes::len).sum();
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(snap);
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The body of a scrape: the published chunks, shared (no copy, no rendering).
    pub fn body(&self, format: Format) -> MetricsBody {
        let snap = self.snapshot();
        let (chunks, len) = match format {
            Format::Text => (&snap.text, snap.text_len),
            Format::OpenMetrics => (&snap.om, snap.om_len),
        };
        MetricsBody {
            chunks: chunks.iter().cloned().collect(),
            remaining: len as u64,
        }
    }

    /// The body as one buffer (tests, tools; copies).
    pub fn render(&self, format: Format) -> Vec<u8> {
        let body = self.body(format);
        let mut v = Vec::with_capacity(body.remaining as usize);
        for c in &body.chunks {
            v.extend_from_slice(c);
        }
        v
    }

    /// Figures on what is served and what was skipped.
    pub fn stats(&self) -> ExporterStats {
        let snap = self.snapshot();
        let st = self.state();
        ExporterStats {
            series: snap.series,
            families: snap.families,
            text_bytes: snap.text_len,
            openmetrics_bytes: snap.om_len,
            building_series: st
                .intervals
                .values()
                .flat_map(|iv| iv.building.values())
                .map(|b| b.gen.series())
                .sum(),
            skipped_no_volume: st.counters.skipped_no_volume,
            skipped_name_clash: st.counters.skipped_name_clash,
            dropped_stale: st.counters.dropped_stale,
            dropped_unopened: st.counters.dropped_unopened,
        }
    }
}

/// A scrape's body: reference-counted chunks of the published text, with an exact length
/// (so hyper sends `Content-Length`, not chunked encoding).
#[derive(Debug)]
pub struct MetricsBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl http_body::Body for MetricsBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(c) => {
                self.remaining -= c.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(c))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sample::{SampleType, Timestamp};

    pub(crate) fn s(meter: &str, res: &str, v: Volume, ts: i64) -> Sample {
        Sample {
            name: meter.to_owned().into(),
            sample_type: SampleType::Gauge,
            unit: "B".into(),
            volume: v,
            user_id: None,
            user_name: None,
            project_id: Some("p".into()),
            project_name: None,
            resource_id: res.into(),
            timestamp: Timestamp::from_unix_micros(ts),
            resource_metadata: Default::default(),
            source: "openstack".into(),
            id: "x".into(),
            monotonic_time: None,
        }
    }

    fn text(e: &Exporter) -> String {
        String::from_utf8(e.render(Format::Text)).unwrap()
    }

    fn lines(e: &Exporter) -> Vec<String> {
        text(e)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn accept_negotiation() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text; q=0")),
            Format::Text
        );
    }

    #[test]
    fn scrape_during_a_cycle_serves_the_previous_one_and_vanished_series_go() {
        let e = Exporter::new();
        e.begin_cycle(300, 1);
        e.observe(
            300,
            1,
            &[
                s("volume.size", "a", Volume::Int(1), 1_000_000),
                s("volume.size", "b", Volume::Float(2.5), 1_000_000),
                s("volume.size", "n", Volume::Missing, 1_000_000),
            ],
        );
        assert_eq!(text(&e), "", "nothing before the first cycle ends");
        e.end_cycle(300, 1);
        let first = text(&e);
        assert_eq!(lines(&e).len(), 2);
        assert!(first.starts_with(
            "# HELP ceilometer_volume_size Ceilometer meter volume.size, unit B\n\
             # TYPE ceilometer_volume_size gauge\n"
        ));
        assert!(first.contains(" 2.5 1000\n"), "{first}");
        // Cycle 2 sees only `b`, with a new value; until it ends, cycle 1 is served.
        e.begin_cycle(300, 2);
        e.observe(300, 2, &[s("volume.size", "b", Volume::Int(3), 2_000_000)]);
        assert_eq!(text(&e), first);
        e.end_cycle(300, 2);
        let l = lines(&e);
        assert_eq!(l.len(), 1);
        assert!(
            l[0].contains("resource=\"b\"") && l[0].ends_with(" 3 2000"),
            "{l:?}"
        );
        assert_eq!(e.stats().skipped_no_volume, 1);
        // A cycle with nothing (not a member any more) empties the interval.
        e.begin_cycle(300, 3);
        e.end_cycle(300, 3);
        assert_eq!(text(&e), "");
    }

    #[test]
    fn families_spanning_intervals_have_one_header() {
        let e = Exporter::new();
        for (iv, res) in [(60, "a"), (300, "b")] {
            e.begin_cycle(iv, 7);
            e.observe(iv, 7, &[s("image.size", res, Volume::Int(1), 0)]);
            e.end_cycle(iv, 7);
        }
        let t = text(&e);
        assert_eq!(
            t.matches("# TYPE ceilometer_image_size gauge").count(),
            1,
            "{t}"
        );
        assert_eq!(lines(&e).len(), 2);
        e.remove_interval(60);
        assert_eq!(lines(&e).len(), 1);
        let om = String::from_utf8(e.render(Format::OpenMetrics)).unwrap();
        assert!(om.ends_with("# EOF\n") && om.starts_with("# TYPE"), "{om}");
    }

    #[test]
    fn takeovers_join_their_cycle_and_stale_cycles_are_dropped() {
        let e = Exporter::new();
        // Own share and a takeover of cycle 5 overlap: published when both are done.
        e.begin_cycle(60, 5);
        e.begin_cycle(60, 5);
        e.observe(60, 5, &[s("m.x", "own", Volume::Int(1), 0)]);
        e.end_cycle(60, 5);
        assert_eq!(lines(&e).len(), 0);
        e.observe(60, 5, &[s("m.x", "taken", Volume::Int(1), 0)]);
        e.end_cycle(60, 5);
        assert_eq!(lines(&e).len(), 2);
        // A takeover of cycle 5 after it was published adds to it.
        e.begin_cycle(60, 5);
        e.observe(60, 5, &[s("m.x", "late", Volume::Int(1), 0)]);
        e.end_cycle(60, 5);
        assert_eq!(lines(&e).len(), 3);
        assert_eq!(text(&e).matches("# TYPE").count(), 1);
        // A takeover of cycle 5 still running when cycle 6 is published is discarded.
        e.begin_cycle(60, 5);
        e.begin_cycle(60, 6);
        e.observe(60, 6, &[s("m.x", "own", Volume::Int(2), 0)]);
        e.end_cycle(60, 6);
        e.observe(60, 5, &[s("m.x", "old", Volume::Int(1), 0)]);
        e.end_cycle(60, 5);
        assert_eq!(lines(&e).len(), 1);
        assert_eq!(e.stats().dropped_stale, 1);
        e.observe(60, 9, &[s("m.x", "x", Volume::Int(1), 0)]);
        assert_eq!(e.stats().dropped_unopened, 1);
    }

    #[test]
    fn one_line_per_series_and_special_values() {
        let e = Exporter::new();
        e.begin_cycle(60, 1);
        e.observe(
            60,
            1,
            &[
                s("m.x", "a", Volume::Int(1), 0),
                s("m.x", "a", Volume::Int(2), 0),
                s("m.y", "a", Volume::Float(f64::NAN), -1),
                s("m.z", "a", Volume::Float(f64::NEG_INFINITY), 1_500_000),
                s("m_x", "a", Volume::Int(1), 0),
            ],
        );
        e.end_cycle(60, 1);
        let l = lines(&e);
        assert_eq!(l.len(), 3, "{l:?}");
        assert!(
            l[0].ends_with(" 2 0"),
            "last sample of a series wins: {l:?}"
        );
        assert!(l[1].ends_with(" NaN -1"), "{l:?}");
        assert!(l[2].ends_with(" -Inf 1500"), "{l:?}");
        let om = String::from_utf8(e.render(Format::OpenMetrics)).unwrap();
        assert!(om.contains(" NaN -0.000001\n"), "{om}");
        assert!(om.contains(" -Inf 1.5\n"), "{om}");
        assert_eq!(e.stats().skipped_name_clash, 1);
    }
}
