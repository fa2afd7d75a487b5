//! `ceilometer-central ring`: ask the tooz-compatible ring who owns which keys.
//!
//! Operators use it to answer "which agent polls this resource?" without running an
//! agent or touching Redis: give it the group's member ids (and weights, if the Python
//! agents were started with any), pipe in resource keys, and it prints the owners exactly
//! as tooz 9.x's Partitioner would compute them.
//!
//! Input is one key per line. Only `\n` ends a line; everything else, including a `\r`
//! before it, is part of the key, because tooz hashes keys as exact bytes and a silently
//! stripped `\r` would report the owner of a different key. Keys are hashed as raw bytes,
//! so non-UTF-8 input is accepted too. A final line without `\n` is still a key; an empty
//! line is the empty key (which tooz hashes like any other).
//!
//! Output is one line per input key, in input order: the owning member ids sorted
//! (byte order) and separated by one space; an empty line when there is no owner (no
//! members given).

use std::io::{BufRead, BufWriter, Write};

use partitioner::{HashRing, DEFAULT_PARTITIONS};

/// Arguments of the `ring` subcommand.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RingArgs {
    /// A group member as ID or ID,WEIGHT (repeatable). The text after the LAST comma is
    /// always the weight, a positive integer; so an id that itself contains a comma needs
    /// an explicit weight (`--member 'a,b,1'` is id "a,b" with weight 1).
    #[arg(long = "member", value_name = "ID[,WEIGHT]")]
    pub members: Vec<String>,

    /// Points per weight unit (tooz `partitions`). Default: 32, as tooz and the Python
    /// agents use, with `--member`; with a live group, the 1024 of our agents' ring.
    #[arg(long, value_name = "N")]
    pub partitions: Option<u32>,

    /// How many distinct owners to print per key (tooz `replicas`).
    #[arg(long, value_name = "R", default_value_t = 1)]
    pub replicas: usize,

    /// Use the live membership of this group (default: the group of the configuration,
    /// `central[-<partitioning_group_prefix>]-global`) instead of `--member`.
    #[arg(long, value_name = "G")]
    pub group: Option<String>,

    /// Read the live membership from this tooz URL instead of `[coordination] backend_url`.
    #[arg(long = "backend-url", value_name = "URL")]
    pub backend_url: Option<String>,

    /// Keys to look up; without any, keys are read from stdin, one per line.
    #[arg(value_name = "KEY")]
    pub keys: Vec<String>,
}

/// Why the `ring` command failed.
///
/// Everything except [`RingError::Io`] is a usage error (see [`RingError::is_usage`]),
/// which the binary reports with exit status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// A `--member` value that is not `ID` or `ID,WEIGHT` with a positive integer weight.
    #[error("invalid --member {spec:?}: {reason}")]
    BadMember {
        /// The value as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same member id given twice: tooz groups cannot contain duplicates, so this is
    /// almost certainly a copy-paste mistake rather than a request for more weight.
    #[error("duplicate --member {0:?} (use ID,WEIGHT to give a member more weight)")]
    DuplicateMember(String),
    /// `--replicas 0` would print nothing but empty lines.
    #[error("--replicas must be at least 1")]
    ZeroReplicas,
    /// `--partitions 0` would give a ring without points.
    #[error("--partitions must be at least 1")]
    ZeroPartitions,
    /// The ring refused the members (e.g. partitions × weight above its limit).
    #[error("cannot build the ring: {0}")]
    Ring(#[from] partitioner::RingError),
    /// Reading keys or writing owners failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl RingError {
    /// True for bad arguments (exit status 2), false for runtime failures such as I/O.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        !matches!(self, Self::Io(_))
    }
}

/// Splits `ID[,WEIGHT]`: the text after the last comma is the weight, which must be a
/// positive decimal integer; without a comma the weight is 1.
fn parse_member(spec: &str) -> Result<(&str, u32), RingError> {
    let bad = |reason: String| RingError::BadMember {
        spec: spec.to_owned(),
        reason,
    };
    let (id, weight) = match spec.rsplit_once(',') {
        None => (spec, 1),
        Some((id, w)) => {
            if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!(
                    "weight {w:?} is not a positive integer (the text after the last ',' \
                     is the weight; an id containing ',' needs an explicit weight, as in \
                     ID,1)"
                )));
            }
            let weight = w
                .parse::<u32>()
                .map_err(|_| bad(format!("weight {w} is too large")))?;
            if weight == 0 {
                return Err(bad("weight must be at least 1".to_owned()));
            }
            (id, weight)
        }
    };
    if id.is_empty() {
        return Err(bad("member id is empty".to_owned()));
    }
    Ok((id, weight))
}

/// Validates `args` and builds the ring they describe.
fn build_ring(args: &RingArgs) -> Result<HashRing, RingError> {
    let partitions = args.partitions.unwrap_or(DEFAULT_PARTITIONS);
    if partitions == 0 {
        return Err(RingError::ZeroPartitions);
    }
    if args.replicas == 0 {
        return Err(RingError::ZeroReplicas);
    }
    let mut members: Vec<(&str, u32)> = Vec::with_capacity(args.members.len());
    for spec in &args.members {
        let (id, weight) = parse_member(spec)?;
        if members.iter().any(|(seen, _)| *seen == id) {
            return Err(RingError::DuplicateMember(id.to_owned()));
        }
        members.push((id, weight));
    }
    Ok(HashRing::with_members(partitions, members)?)
}

/// Runs the command: validates `args`, then answers every key read from `input` on
/// `output` (see the module docs for the line format).
///
/// Arguments are validated before any input is read, so a usage error never leaves
/// partial output behind. Output is buffered and flushed at the end.
///
/// # Errors
/// A usage error ([`RingError::is_usage`]) for bad arguments, [`RingError::Io`] when
/// reading or writing fails.
pub fn run(args: &RingArgs, mut input: impl BufRead, output: impl Write) -> Result<(), RingError> {
    let ring = build_ring(args)?;
    let mut out = BufWriter::new(output);
    let mut line = Vec::new();
    let mut owners: Vec<&[u8]> = Vec::with_capacity(args.replicas.min(ring.len()));
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let key = line.strip_suffix(b"\n").unwrap_or(&line);
        owners.clear();
        if args.replicas == 1 {
            // The common case: one md5 + one binary search, no allocation.
            owners.extend(ring.owner(key).map(partitioner::Member::id));
        } else {
            owners.extend(
                ring.get_nodes::<&[u8]>(key, &[], args.replicas)
                    .into_iter()
                    .map(partitioner::Member::id),
            );
            owners.sort_unstable();
        }
        for (i, id) in owners.iter().enumerate() {
            if i > 0 {
                out.write_all(b" ")?;
            }
            out.write_all(id)?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn args(members: &[&str], partitions: u32, replicas: usize) -> RingArgs {
        RingArgs {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            partitions: Some(partitions),
            replicas,
            group: None,
            backend_url: None,
            keys: Vec::new(),
        }
    }

    fn run_str(a: &RingArgs, input: &[u8]) -> Result<String, RingError> {
        let mut out = Vec::new();
        run(a, input, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    // From shared/vectors/ring-points.json, case "three-hostnames-w123-p4".
    const HOSTS: [&str; 3] = [
        "node-1.domain.tld,1",
        "node-2.domain.tld,2",
        "node-3.domain.tld,3",
    ];

    #[test]
    fn owners_match_tooz_vectors() {
        let input = b"79c8c292-6b94-45b5-b498-82321e35049e\neb7a7995-9588-432d-8242-aadbc8f429a4\n\
            http://host-0.example.com:8080/v1/AUTH_\xce\xbb\n\nwrap-probe-9";
        let a = args(&HOSTS, 4, 1);
        let out = run_str(&a, input).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out:?}");
        assert_eq!(lines[0], "node-3.domain.tld");
        assert_eq!(lines[1], "node-2.domain.tld");
        assert_eq!(lines[3], "node-3.domain.tld", "the empty key");
        assert_eq!(lines[4], "node-3.domain.tld", "last line without newline");
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn replicas_are_sorted_and_capped() {
        let a = args(&HOSTS, 4, 2);
        let out = run_str(&a, b"79c8c292-6b94-45b5-b498-82321e35049e\n").unwrap();
        let ids: Vec<&str> = out.trim_end().split(' ').collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{out:?}");
        assert!(ids.contains(&"node-3.domain.tld"), "primary owner included");
        let all = run_str(&args(&HOSTS, 4, 9), b"x\n").unwrap();
        assert_eq!(
            all,
            "node-1.domain.tld node-2.domain.tld node-3.domain.tld\n"
        );
    }

    #[test]
    fn carriage_return_is_part_of_the_key() {
        let members = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let a = args(&members, 32, 1);
        // Find a key whose owner changes when "\r" is appended: proves it is not stripped.
        let ring = build_ring(&a).unwrap();
        let key = (0..1000)
            .map(|i| format!("key-{i}"))
            .find(|k| {
                ring.owner(k.as_bytes()).map(partitioner::Member::id)
                    != ring
                        .owner(format!("{k}\r").as_bytes())
                        .map(partitioner::Member::id)
            })
            .unwrap();
        let want = ring
            .owner(format!("{key}\r").as_bytes())
            .unwrap()
            .id_str()
            .unwrap();
        let out = run_str(&a, format!("{key}\r\n").as_bytes()).unwrap();
        assert_eq!(out, format!("{want}\n"));
    }

    #[test]
    fn no_members_gives_empty_lines() {
        assert_eq!(run_str(&args(&[], 32, 1), b"a\nb\n").unwrap(), "\n\n");
        assert_eq!(run_str(&args(&[], 32, 1), b"").unwrap(), "");
    }

    #[test]
    fn member_spec_parsing() {
        assert_eq!(parse_member("x").unwrap(), ("x", 1));
        assert_eq!(parse_member("x,3").unwrap(), ("x", 3));
        assert_eq!(parse_member("a,b,007").unwrap(), ("a,b", 7));
        for bad in [
            "x,abc",
            "x,0",
            "x,",
            "x,-1",
            "x,+2",
            "x, 2",
            ",2",
            "",
            "x,99999999999",
        ] {
            let err = parse_member(bad).unwrap_err();
            assert!(matches!(err, RingError::BadMember { .. }), "{bad:?}: {err}");
            assert!(err.is_usage());
        }
        // A comma in the id without a weight is refused rather than guessed at.
        assert!(parse_member("a,b").is_err());
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let cases: [(RingArgs, &str); 5] = [
            (args(&["a", "a,2"], 32, 1), "duplicate"),
            (args(&["a"], 32, 0), "--replicas"),
            (args(&["a"], 0, 1), "--partitions"),
            (args(&["a,0"], 32, 1), "at least 1"),
            (args(&["a,4000000"], 32, 1), "limit"),
        ];
        for (a, needle) in cases {
            let mut out = Vec::new();
            let err = run(&a, &b"key\n"[..], &mut out).unwrap_err();
            assert!(err.is_usage(), "{err}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
            assert!(out.is_empty(), "no partial output on usage errors");
        }
    }

    #[test]
    fn io_errors_are_not_usage_errors() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
        }
        let err = run(&args(&["a"], 32, 1), &b"k\n"[..], Broken).unwrap_err();
        assert!(!err.is_usage());
    }

    #[test]
    fn clap_parses_the_flags() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            ring: RingArgs,
        }
        let cli = Cli::try_parse_from([
            "ring",
            "--member",
            "a,2",
            "--member",
            "b",
            "--replicas",
            "2",
        ])
        .unwrap();
        // Without --partitions: tooz's 32 with --member (applied by `run`), ours live.
        assert_eq!(
            cli.ring,
            RingArgs {
                partitions: None,
                ..args(&["a,2", "b"], 32, 2)
            }
        );
        let cli = Cli::try_parse_from(["ring", "--member", "a", "--partitions", "1024"]).unwrap();
        assert_eq!(cli.ring.partitions, Some(1024));
    }
}
