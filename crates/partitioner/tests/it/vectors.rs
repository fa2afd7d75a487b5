//! Checks the ring against every vector generated from real tooz 9.1.0
//! (`shared/vectors/{hashring,ring-points,partitioner}.json`, spec §10).
//!
//! Run with `cargo test -p partitioner --test vectors -- --nocapture` to see the counts.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use md5::{Digest, Md5};
use partitioner::{
    encode_capabilities_weight, key_position, weight_from_capabilities, HashRing, Member,
    Partitioner,
};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors"
    ))
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test vector {name} not found at {} ({e}); the vectors are expected in a \
             `shared/vectors/` directory checked out next to the repository root",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn strings(v: &Value) -> Vec<String> {
    arr(v).iter().map(|x| s(x).to_owned()).collect()
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn sorted_ids(members: &[&Member]) -> Vec<String> {
    let mut ids: Vec<String> = members
        .iter()
        .map(|m| String::from_utf8_lossy(m.id()).into_owned())
        .collect();
    ids.sort();
    ids
}

/// Counts checks and reports failures with enough context to debug them.
#[derive(Default)]
struct Checks {
    count: usize,
}

impl Checks {
    #[track_caller]
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, case: &str, key: &str, got: T, want: T) {
        self.count += 1;
        assert!(
            got == want,
            "case {case:?}, key {key:?}: ours = {got:?}, tooz = {want:?}"
        );
    }
}

fn build(case: &Value) -> HashRing {
    let partitions = u32::try_from(case["partitions"].as_u64().expect("partitions")).unwrap();
    let nodes = arr(&case["nodes"]).iter().map(|n| {
        (
            s(&n["id"]).to_owned(),
            u32::try_from(n["weight"].as_u64().expect("weight")).unwrap(),
        )
    });
    HashRing::with_members(partitions, nodes).expect("ring builds")
}

fn hashring(c: &mut Checks) {
    let v = load("hashring.json");
    let keys = strings(&v["keys"]);
    // Empty ring: no owner for any key, get_nodes empty for any replicas.
    let empty = HashRing::new(32).unwrap();
    for (i, want) in arr(&v["empty_ring"]["results"]).iter().enumerate() {
        let got = sorted_ids(&empty.get_nodes::<&str>(keys[i].as_bytes(), &[], i + 1));
        c.eq("empty_ring", &keys[i], got, strings(want));
    }
    for key in &keys {
        c.eq(
            "empty_ring",
            key,
            empty.owner(key.as_bytes()).is_none(),
            true,
        );
    }
    for case in arr(&v["cases"]) {
        let name = s(&case["name"]);
        let mut ring = build(case);
        if let Some(removed) = case.get("removed") {
            // Built incrementally and then shrunk, as the vector's `construction` says.
            for id in strings(removed) {
                ring.remove_member(&id).expect("remove");
            }
        }
        c.eq(
            name,
            "<ring_points>",
            ring.point_count() as u64,
            case["ring_points"].as_u64().unwrap(),
        );
        let nodes: Vec<String> = arr(&case["nodes"])
            .iter()
            .map(|n| s(&n["id"]).to_owned())
            .collect();
        for (key, idx) in keys.iter().zip(arr(&case["owner_index_per_key"])) {
            let want = &nodes[usize::try_from(idx.as_u64().unwrap()).unwrap()];
            let got = ring.owner(key.as_bytes()).map(|m| m.id_str().unwrap());
            c.eq(name, key, got, Some(want.as_str()));
            c.eq(name, key, ring.belongs_to(want, key.as_bytes()), true);
        }
        for ex in arr(&case["examples"]) {
            let key = s(&ex["key"]);
            let got = sorted_ids(&ring.get_nodes::<&str>(key.as_bytes(), &[], 1));
            c.eq(name, key, got, strings(&ex["expected"]));
        }
        for rc in arr(&case["replica_checks"]) {
            let key = s(&rc["key"]);
            let ignore = strings(&rc["ignore_nodes"]);
            let replicas = usize::try_from(rc["replicas"].as_u64().unwrap()).unwrap();
            let got = sorted_ids(&ring.get_nodes(key.as_bytes(), &ignore, replicas));
            let label = format!("{key} (replicas {replicas}, ignore {ignore:?})");
            c.eq(name, &label, got, strings(&rc["expected"]));
        }
    }
}

/// The batch lookup must give, for every case and every key, exactly the single-key
/// `owner` (and therefore tooz's owner). Each case is looked up several ways so every
/// key lands in every lane position and chunks end at every offset: all keys at once
/// (mixed lengths 0..1000 side by side), then starting at offsets 1..=16, and one key
/// at a time.
fn hashring_batch(c: &mut Checks) {
    let v = load("hashring.json");
    let keys = strings(&v["keys"]);
    let empty = HashRing::new(32).unwrap();
    let mut out = Vec::new();
    empty.owners_of(&keys, &mut out);
    c.eq("empty_ring", "<batch>", out.len(), keys.len());
    for (key, got) in keys.iter().zip(&out) {
        c.eq("empty_ring", key, got.is_none(), true);
    }
    for case in arr(&v["cases"]) {
        let name = s(&case["name"]);
        let mut ring = build(case);
        if let Some(removed) = case.get("removed") {
            for id in strings(removed) {
                ring.remove_member(&id).expect("remove");
            }
        }
        let nodes: Vec<String> = arr(&case["nodes"])
            .iter()
            .map(|n| s(&n["id"]).to_owned())
            .collect();
        let want_tooz: Vec<&str> = arr(&case["owner_index_per_key"])
            .iter()
            .map(|i| nodes[usize::try_from(i.as_u64().unwrap()).unwrap()].as_str())
            .collect();
        let mut out = Vec::new();
        for offset in 0..=16 {
            out.clear();
            ring.owners_of(keys[offset..].iter().map(String::as_bytes), &mut out);
            c.eq(name, "<batch length>", out.len(), keys.len() - offset);
            for ((key, got), want) in keys[offset..].iter().zip(&out).zip(&want_tooz[offset..]) {
                c.eq(name, key, *got, ring.owner(key.as_bytes()));
                c.eq(name, key, got.map(|m| m.id_str().unwrap()), Some(*want));
            }
        }
        for key in &keys {
            out.clear();
            ring.owners_of([key], &mut out);
            c.eq(name, key, out.as_slice(), &[ring.owner(key.as_bytes())][..]);
        }
    }
}

fn ring_points(c: &mut Checks) {
    let v = load("ring-points.json");
    for case in arr(&v["cases"]) {
        let name = s(&case["name"]);
        let ring = build(case);
        let points: Vec<(u128, &Member)> = ring.points().collect();
        let want_points = arr(&case["points_sorted"]);
        c.eq(name, "<point count>", points.len(), want_points.len());
        for (i, ((pos, member), want)) in points.iter().zip(want_points).enumerate() {
            let label = format!("point {i}");
            let want_pos: u128 = s(&want["position"]).parse().expect("decimal u128");
            c.eq(name, &label, *pos, want_pos);
            c.eq(
                name,
                &label,
                format!("{pos:032x}"),
                s(&want["hex"]).to_owned(),
            );
            c.eq(name, &label, member.id_str(), Some(s(&want["node"])));
            // Independent closed form: md5(node repeated r+2 times).
            let r = usize::try_from(want["node_point_index"].as_u64().unwrap()).unwrap();
            let repeated = s(&want["node"]).repeat(r + 2);
            let closed = u128::from_be_bytes(Md5::digest(repeated.as_bytes()).into());
            c.eq(name, &label, closed, *pos);
        }
        for l in arr(&case["lookups"]) {
            let key = s(&l["key"]);
            let h = key_position(key.as_bytes());
            c.eq(
                name,
                key,
                format!("{h:032x}"),
                s(&l["key_md5_hex"]).to_owned(),
            );
            c.eq(
                name,
                key,
                h,
                s(&l["key_position"]).parse::<u128>().expect("u128"),
            );
            let bisect = points.iter().filter(|(p, _)| *p <= h).count() as u64;
            c.eq(name, key, bisect, l["bisect_right_index"].as_u64().unwrap());
            c.eq(
                name,
                key,
                ring.point_index(key.as_bytes()).map(|i| i as u64),
                l["partition_index_after_wrap"].as_u64(),
            );
            let got = sorted_ids(&ring.get_nodes::<&str>(key.as_bytes(), &[], 1));
            c.eq(name, key, got, strings(&l["expected"]));
        }
    }
}

fn partitioner(c: &mut Checks) {
    let v = load("partitioner.json");
    for cap in arr(&v["capabilities_msgpack"]) {
        let repr = s(&cap["python_repr"]);
        let bytes = hex(s(&cap["msgpack_hex"]));
        let weight = repr
            .strip_prefix("{'weight': ")
            .and_then(|r| r.strip_suffix('}'))
            .map(|w| w.parse::<u32>().expect("weight"));
        match weight {
            Some(w) => {
                c.eq(
                    "capabilities_msgpack",
                    repr,
                    encode_capabilities_weight(w),
                    bytes.clone(),
                );
                c.eq(
                    "capabilities_msgpack",
                    repr,
                    weight_from_capabilities(&bytes),
                    w,
                );
            }
            None => c.eq(
                "capabilities_msgpack",
                repr,
                weight_from_capabilities(&bytes),
                1,
            ),
        }
    }
    for sc in arr(&v["scenarios"]) {
        let name = s(&sc["name"]);
        let partitions = u32::try_from(sc["partitions"].as_u64().unwrap()).unwrap();
        // The raw HGETALL, `__created__` included: the constructor must skip it.
        let hash: Vec<(Vec<u8>, Vec<u8>)> = arr(&sc["redis_group_hash"])
            .iter()
            .map(|f| (s(&f["field"]).as_bytes().to_vec(), hex(s(&f["value_hex"]))))
            .collect();
        let members = strings(&Value::Array(
            arr(&sc["members"])
                .iter()
                .map(|m| m["id"].clone())
                .collect(),
        ));
        let parts: Vec<Partitioner> = members
            .iter()
            .map(|me| {
                Partitioner::from_capabilities(me, partitions, hash.iter().cloned())
                    .expect("partitioner builds")
            })
            .collect();
        let ring = parts[0].ring();
        let seen = sc["ring_weights_seen_by_partitioner"].as_object().unwrap();
        c.eq(name, "<member count>", ring.len(), seen.len());
        for (id, w) in seen {
            let got = ring.member(id).map(Member::weight);
            c.eq(name, id, got, w.as_u64().map(|w| u32::try_from(w).unwrap()));
        }
        for obj in arr(&sc["objects"]) {
            let key = hex(s(&obj["hashed_bytes_hex"]));
            let label = format!(
                "{} = {:?}",
                s(&obj["python_repr"]),
                String::from_utf8_lossy(&key)
            );
            let got = ring.owner(&key).map(|m| m.id_str().unwrap().to_owned());
            c.eq(name, &label, got, Some(s(&obj["owner"]).to_owned()));
            let got = sorted_ids(&parts[0].members_for_object::<&str>(&key, &[], 2));
            c.eq(name, &label, got, strings(&obj["owners_replicas2"]));
            let by_member = arr(&obj["belongs_to_self_by_member"]);
            c.eq(name, &label, by_member.len(), parts.len());
            for ((p, want), me) in parts.iter().zip(by_member).zip(&members) {
                let want = want.as_bool().unwrap();
                c.eq(
                    name,
                    &format!("{label} self={me}"),
                    p.belongs_to_self(&key),
                    want,
                );
                c.eq(
                    name,
                    &format!("{label} member={me}"),
                    parts[0].belongs_to_member(me, &key),
                    want,
                );
            }
        }
    }
}

/// `Partitioner::owned_by_self` / `retain_owned_by_self` against tooz's
/// `belongs_to_self` verdicts for every member of every scenario.
fn partitioner_batch(c: &mut Checks) {
    let v = load("partitioner.json");
    for sc in arr(&v["scenarios"]) {
        let name = s(&sc["name"]);
        let partitions = u32::try_from(sc["partitions"].as_u64().unwrap()).unwrap();
        let hash: Vec<(Vec<u8>, Vec<u8>)> = arr(&sc["redis_group_hash"])
            .iter()
            .map(|f| (s(&f["field"]).as_bytes().to_vec(), hex(s(&f["value_hex"]))))
            .collect();
        let objects = arr(&sc["objects"]);
        let keys: Vec<Vec<u8>> = objects
            .iter()
            .map(|o| hex(s(&o["hashed_bytes_hex"])))
            .collect();
        for (m, member) in arr(&sc["members"]).iter().enumerate() {
            let me = s(&member["id"]);
            let p = Partitioner::from_capabilities(me, partitions, hash.iter().cloned())
                .expect("partitioner builds");
            let want: Vec<bool> = objects
                .iter()
                .map(|o| arr(&o["belongs_to_self_by_member"])[m].as_bool().unwrap())
                .collect();
            let mut got = Vec::new();
            p.owned_by_self(&keys, &mut got);
            c.eq(name, &format!("owned_by_self, self={me}"), &got, &want);
            let single: Vec<bool> = keys.iter().map(|k| p.belongs_to_self(k)).collect();
            c.eq(
                name,
                &format!("vs belongs_to_self, self={me}"),
                &got,
                &single,
            );
            let mut kept = keys.clone();
            p.retain_owned_by_self(&mut kept, |k| k.as_slice());
            let want_kept: Vec<Vec<u8>> = keys
                .iter()
                .zip(&want)
                .filter(|(_, &w)| w)
                .map(|(k, _)| k.clone())
                .collect();
            c.eq(
                name,
                &format!("retain_owned_by_self, self={me}"),
                kept,
                want_kept,
            );
        }
        // Not a member: owns nothing, like tooz after being pruned.
        let outsider = Partitioner::from_capabilities("outsider", partitions, hash.iter().cloned())
            .expect("partitioner builds");
        let mut got = Vec::new();
        outsider.owned_by_self(&keys, &mut got);
        c.eq(name, "outsider", got, vec![false; keys.len()]);
    }
}

#[test]
fn all_tooz_vectors() {
    let mut total = 0;
    for (file, run) in [
        ("hashring.json", hashring as fn(&mut Checks)),
        ("ring-points.json", ring_points),
        ("partitioner.json", partitioner),
        ("hashring.json, batch owners_of", hashring_batch),
        ("partitioner.json, batch owned_by_self", partitioner_batch),
    ] {
        let mut c = Checks::default();
        run(&mut c);
        println!("{file}: {} checks passed", c.count);
        total += c.count;
    }
    println!("total: {total} vector checks passed");
}
