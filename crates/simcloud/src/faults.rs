//! Fault injection per service: latency, errors, 429, hangs, malformed or truncated JSON,
//! token revocation and a Keystone outage. Switchable at run time (`POST /_sim/faults`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::Service;

/// Added latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Latency {
    /// Always `ms`.
    Fixed {
        /// Milliseconds.
        ms: u64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: u64,
        /// Upper bound.
        max_ms: u64,
    },
    /// Exponential with the given mean (a long tail).
    Exponential {
        /// Mean.
        mean_ms: u64,
    },
}

/// The faults of one service. Rates are probabilities per request in `[0, 1]`.
///
/// JSON form (for `POST /_sim/faults`): every field optional, e.g.
/// `{"service": "object-store", "latency_ms": 10, "error_rate": 0.1}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Service name as in [`Service::name`] (`identity`, `object-store`, ...) or `all`.
    pub service: String,
    /// Shorthand for a fixed latency.
    pub latency_ms: Option<u64>,
    /// Latency distribution (wins over `latency_ms`).
    pub latency: Option<Latency>,
    /// Probability of a 500/503 answer.
    pub error_rate: f64,
    /// Status codes used for errors (default 500 and 503 alternately at random).
    pub error_codes: Vec<u16>,
    /// Probability of a 429 answer.
    pub rate_limit_rate: f64,
    /// `Retry-After` seconds of 429 answers (default 1).
    pub retry_after_s: Option<u64>,
    /// Probability that a request is never answered (held until the client gives up).
    pub hang_rate: f64,
    /// Probability of a syntactically broken JSON body (full length, 200).
    pub malformed_rate: f64,
    /// Probability of a JSON body cut in half (consistent Content-Length, 200).
    pub truncated_rate: f64,
    /// Identity only: every Keystone call answers 503 while true.
    pub outage: bool,
}

impl FaultSpec {
    /// A spec that does nothing for `service`.
    pub fn none(service: Service) -> Self {
        FaultSpec {
            service: service.name().into(),
            ..Default::default()
        }
    }

    fn is_noop(&self) -> bool {
        self.latency_ms.is_none()
            && self.latency.is_none()
            && self.error_rate <= 0.0
            && self.rate_limit_rate <= 0.0
            && self.hang_rate <= 0.0
            && self.malformed_rate <= 0.0
            && self.truncated_rate <= 0.0
            && !self.outage
    }
}

/// What to do with one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Sleep this long first.
    pub delay: Option<Duration>,
    /// Answer with this status (500/503/429/503-outage) instead of serving.
    pub status: Option<u16>,
    /// `Retry-After` for 429.
    pub retry_after: Option<u64>,
    /// Never answer.
    pub hang: bool,
    /// Break the body.
    pub malformed: bool,
    /// Cut the body.
    pub truncated: bool,
}

/// Active faults with a seeded RNG (reproducible error sequences).
pub struct Faults {
    specs: RwLock<HashMap<Service, FaultSpec>>,
    /// Fast path: no fault configured at all.
    any: AtomicBool,
    rng: Mutex<ChaCha8Rng>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("specs", &*self.specs.read())
            .finish()
    }
}

/// A fault spec that names no known service.
#[derive(Debug, thiserror::Error)]
#[error("unknown service {0:?} in fault spec; expected one of {1}")]
pub struct UnknownService(pub String, pub String);

impl Faults {
    /// No faults; dice seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Faults {
            specs: RwLock::new(HashMap::new()),
            any: AtomicBool::new(false),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xFA_17)),
        }
    }

    /// Sets (replaces) the faults of one service, or of every service for `all`.
    pub fn set(&self, spec: FaultSpec) -> Result<(), UnknownService> {
        let targets: Vec<Service> = if spec.service == "all" {
            Service::ALL.to_vec()
        } else {
            vec![Service::from_name(&spec.service).ok_or_else(|| {
                UnknownService(
                    spec.service.clone(),
                    Service::ALL
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?]
        };
        let mut g = self.specs.write();
        for s in targets {
            let mut one = spec.clone();
            one.service = s.name().into();
            if one.is_noop() {
                g.remove(&s);
            } else {
                g.insert(s, one);
            }
        }
        self.any.store(!g.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Clears every fault (or one service's).
    pub fn clear(&self, service: Option<Service>) {
        let mut g = self.specs.write();
        match service {
            Some(s) => {
                g.remove(&s);
            }
            None => g.clear(),
        }
        self.any.store(!g.is_empty(), Ordering::Release);
    }

    /// Active specs.
    pub fn list(&self) -> Vec<FaultSpec> {
        let mut v: Vec<FaultSpec> = self.specs.read().values().cloned().collect();
        v.sort_by(|a, b| a.service.cmp(&b.service));
        v
    }

    /// Rolls the dice for one request to `service`.
    pub fn decide(&self, service: Service) -> Decision {
        if !self.any.load(Ordering::Acquire) {
            return Decision::default();
        }
        let Some(spec) = self.specs.read().get(&service).cloned() else {
            return Decision::default();
        };
        let mut d = Decision::default();
        let mut rng = self.rng.lock();
        let latency = spec
            .latency
            .clone()
            .or(spec.latency_ms.map(|ms| Latency::Fixed { ms }));
        d.delay = match &latency {
            Some(Latency::Fixed { ms }) => Some(Duration::from_millis(*ms)),
            Some(Latency::Uniform { min_ms, max_ms }) => Some(Duration::from_millis(
                rng.random_range(*min_ms..=(*max_ms).max(*min_ms)),
            )),
            Some(Latency::Exponential { mean_ms }) => {
                let u: f64 = rng.random::<f64>().max(1e-12);
                Some(Duration::from_secs_f64(-u.ln() * *mean_ms as f64 / 1000.0))
            }
            None => None,
        };
        if spec.outage && service == Service::Identity {
            d.status = Some(503);
            return d;
        }
        if rng.random::<f64>() < spec.hang_rate {
            d.hang = true;
            return d;
        }
        if rng.random::<f64>() < spec.rate_limit_rate {
            d.status = Some(429);
            d.retry_after = Some(spec.retry_after_s.unwrap_or(1));
            return d;
        }
        if rng.random::<f64>() < spec.error_rate {
            let codes = if spec.error_codes.is_empty() {
                &[500u16, 503][..]
            } else {
                &spec.error_codes[..]
            };
            d.status = Some(codes[rng.random_range(0..codes.len())]);
            return d;
        }
        d.malformed = rng.random::<f64>() < spec.malformed_rate;
        d.truncated = !d.malformed && rng.random::<f64>() < spec.truncated_rate;
        d
    }
}

/// Breaks a JSON body (same length, invalid syntax): every `:` of the first 4 KiB becomes `=`.
pub fn malform(mut body: Vec<u8>) -> Vec<u8> {
    let n = body.len().min(4096);
    for b in &mut body[..n] {
        if *b == b':' {
            *b = b'=';
        }
    }
    if body.is_empty() {
        body.extend_from_slice(b"{\"");
    }
    body
}

/// Cuts a body in half (at least one byte shorter).
pub fn truncate(mut body: Vec<u8>) -> Vec<u8> {
    let keep = body.len() / 2;
    body.truncate(keep);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear() {
        let f = Faults::new(1);
        assert_eq!(f.decide(Service::ObjectStore), Decision::default());
        f.set(FaultSpec {
            service: "object-store".into(),
            error_rate: 1.0,
            error_codes: vec![503],
            ..Default::default()
        })
        .expect("known service");
        assert_eq!(f.decide(Service::ObjectStore).status, Some(503));
        assert_eq!(f.decide(Service::Image).status, None);
        f.clear(None);
        assert_eq!(f.decide(Service::ObjectStore), Decision::default());
        assert!(f
            .set(FaultSpec {
                service: "nova".into(),
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn body_breakers() {
        let b = br#"{"a": 1}"#.to_vec();
        assert!(serde_json::from_slice::<serde_json::Value>(&malform(b.clone())).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(&truncate(b)).is_err());
    }
}
