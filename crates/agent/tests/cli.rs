//! The binary as operators run it: exit codes, messages, flag order.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ceilometer-central"));
    // Keep the default search path away from the machine's /etc and the user's home.
    c.env("HOME", "/nonexistent-home").env_remove("RUST_LOG");
    c
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn validate_passes_on_the_shipped_example() {
    let o = bin()
        .args(["validate", "--config-file"])
        .arg(repo().join("etc/ceilometer/ceilometer.conf"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Sources:") && out.contains("all_pollsters"),
        "{out}"
    );
    assert!(
        out.contains("Coordination:") && out.contains("Publishers:"),
        "{out}"
    );
    assert!(out.lines().count() < 25, "one screen: {out}");
}

#[test]
fn validate_reports_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        "[polling]\nbatch_size = lots\ncfg_file = polling.yaml\n[coordination]\nbackend_url = redis://:hunter2@127.0.0.1:6379\nheartbeat = never\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 0\n    meters: []\n",
    )
    .unwrap();
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    for needle in [
        "[polling] batch_size: invalid value = \"lots\": expected an integer",
        "[coordination] heartbeat: invalid value = \"never\": expected a number",
        "source 's': Interval value should > 0",
        "source 's': No meters specified",
        "FAILED: 4 error(s)",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("hunter2") && !out.contains("hunter2"));
}

#[test]
fn summary_masks_the_redis_password() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        "[coordination]\nbackend_url = redis://:hunter2@127.0.0.1:6379?sentinel=m&sentinel_password=sp\n[polling]\npartitioning_group_prefix = rust\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("redis://:***@127.0.0.1:6379?sentinel=m&sentinel_password=***"),
        "{out}"
    );
    assert!(out.contains("group central-rust-global"), "{out}");
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
}

/// A polling.yaml selecting everything, beside `conf`.
fn write_polling_yaml(dir: &Path) {
    std::fs::write(
        dir.join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
}

#[test]
fn validate_refuses_publisher_urls_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        "[ceilometer_central]\n\
         publishers = file:///tmp/fine.jsonl?json\n\
         publishers = udp://127.0.0.1:4952?meter_form=bogus\n\
         publishers = notifier://guest:s3cretpw@127.0.0.1:5672/?policy=sometimes\n\
         publishers = carrier-pigeon://loft\n\
         publishers = gnocchi://?archive_policy=low\n",
    )
    .unwrap();
    write_polling_yaml(dir.path());
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let c = conf.display();
    for needle in [
        format!("ERROR: {c}:3: [ceilometer_central] publishers: publisher udp://127.0.0.1:4952?meter_form=bogus: option meter_form=\"bogus\": expected modern"),
        format!("ERROR: {c}:4: [ceilometer_central] publishers: publisher notifier://guest:***@127.0.0.1:5672/?policy=sometimes: option policy=\"sometimes\""),
        format!("ERROR: {c}:5: [ceilometer_central] publishers: publisher carrier-pigeon://loft: unknown scheme \"carrier-pigeon\""),
        // Gnocchi needs Keystone, which this configuration does not have.
        format!("ERROR: {c}:6: [ceilometer_central] publishers: publisher gnocchi://?archive_policy=low: [service_credentials] auth_url is not set"),
        "FAILED: 4 error(s)".to_owned(),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }
    assert!(
        !err.contains("fine.jsonl"),
        "a good URL is no problem:\n{err}"
    );
    assert!(
        !err.contains("s3cretpw") && !out.contains("s3cretpw"),
        "{out}{err}"
    );
}

#[test]
fn validate_refuses_a_bad_kilo_sink_publisher_and_shows_the_kilo_meter_form() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        &conf,
        "[DEFAULT]\npipeline_cfg_file = pipeline.yaml\n[ceilometer_central]\npublishers = file:///tmp/unused\n",
    )
    .unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        "---\nsources:\n  - name: meter_source\n    interval: 600\n    meters: ['*']\n    sinks: [meter_sink]\n\
         sinks:\n  - name: meter_sink\n    transformers:\n    publishers:\n\
         \x20     - udp://127.0.0.1:4952?meter_form=bogus\n\
         \x20     - notifier://ceilo:s3cretpw@127.0.0.1:5672/\n",
    )
    .unwrap();
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let needle = format!(
        "ERROR: {}:8: sink 'meter_sink': publisher udp://127.0.0.1:4952?meter_form=bogus: option meter_form=\"bogus\"",
        pipeline.display()
    );
    assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    let needle = format!(
        "WARNING: {}:4: [ceilometer_central] publishers: ignored with a Kilo/Liberty pipeline.yaml",
        conf.display()
    );
    assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    assert!(err.contains("FAILED: 1 error(s)"), "{err}");
    assert!(
        out.contains("Meter form:          kilo (default with a Kilo/Liberty pipeline.yaml"),
        "{out}"
    );
    assert!(
        out.contains("sink meter_sink: udp://127.0.0.1:4952?meter_form=bogus, notifier://ceilo:***@127.0.0.1:5672/"),
        "{out}"
    );
    assert!(
        !err.contains("s3cretpw") && !out.contains("s3cretpw"),
        "{out}{err}"
    );
}

#[test]
fn summary_shows_the_meter_form_and_masked_publishers() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    write_polling_yaml(dir.path());
    // polling.yaml: modern unless meter_form says otherwise.
    std::fs::write(
        &conf,
        "[ceilometer_central]\npublishers = http://alice:s3cretpw@127.0.0.1:8080/x\npublishers = udp://127.0.0.1:4952?meter_form=kilo\n",
    )
    .unwrap();
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("Meter form:          modern (default with polling.yaml"),
        "{out}"
    );
    assert!(
        out.contains("direct: http://alice:***@127.0.0.1:8080/x"),
        "{out}"
    );
    assert!(
        out.contains("direct: udp://127.0.0.1:4952?meter_form=kilo"),
        "{out}"
    );
    assert!(
        !err.contains("s3cretpw") && !out.contains("s3cretpw"),
        "{out}{err}"
    );

    std::fs::write(
        &conf,
        "[ceilometer_central]\nmeter_form = kilo\npublishers = tcp://bob:0ther5ecret@127.0.0.1:4952\n",
    )
    .unwrap();
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&conf)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("Meter form:          kilo ([ceilometer_central] meter_form;"),
        "{out}"
    );
    assert!(
        out.contains("direct: tcp://bob:***@127.0.0.1:4952"),
        "{out}"
    );
    assert!(
        !err.contains("0ther5ecret") && !out.contains("0ther5ecret"),
        "{out}{err}"
    );
}

#[test]
fn config_dir_and_files_apply_in_command_line_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("10-a.conf"), "[polling]\nbatch_size = 11\n").unwrap();
    std::fs::write(d.join("20-b.conf"), "[polling]\nbatch_size = 22\n").unwrap();
    std::fs::write(d.join("ignored.txt"), "[polling]\nbatch_size = 99\n").unwrap();
    let first = dir.path().join("first.conf");
    std::fs::write(
        &first,
        format!(
            "[polling]\nbatch_size = 1\ncfg_file = {}\n",
            dir.path().join("p.yaml").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
    // file then dir: the dir's last file wins.
    let o = bin()
        .arg("validate")
        .arg("--config-file")
        .arg(&first)
        .arg("--config-dir")
        .arg(&d)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(out.contains("batches of 22"), "{out}{err}");
    // dir then file: the file wins.
    let o = bin()
        .arg("validate")
        .arg("--config-dir")
        .arg(&d)
        .arg("--config-file")
        .arg(&first)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(
        out.contains("batches of 1,") || out.contains("batches of 1\n"),
        "{out}{err}"
    );
}

#[test]
fn other_namespaces_are_a_clear_error() {
    let o = bin()
        .args([
            "validate",
            "--polling-namespaces",
            "compute",
            "--config-file",
        ])
        .arg(repo().join("etc/ceilometer/ceilometer.conf"))
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("--polling-namespaces compute: not implemented; ceilometer-central runs the central namespace only"), "{err}");
}

#[test]
fn run_refuses_a_broken_configuration() {
    let o = bin()
        .args(["run", "--config-file", "/nonexistent/ceilometer.conf"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("/nonexistent/ceilometer.conf: cannot read configuration file"),
        "{err}"
    );
}

#[test]
fn no_config_anywhere_says_where_it_looked() {
    let o = bin().arg("validate").output().unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("no configuration file given and no ceilometer.conf found in /nonexistent-home/.ceilometer, /nonexistent-home, /etc/ceilometer, /etc"), "{err}");
}

#[test]
fn bad_flags_exit_2_and_help_and_version_work() {
    let o = bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    for args in [
        vec!["--help"],
        vec!["validate", "--help"],
        vec!["run", "--help"],
        vec!["--version"],
    ] {
        let o = bin().args(&args).output().unwrap();
        assert!(o.status.success(), "{args:?}");
    }
    let o = bin().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ceilometer-central "));
}

/// The `ring` command reproduces tooz's owners for every key of every multi-member case of
/// `hashring.json` whose keys have no newline (the command reads one key per line).
#[test]
fn ring_command_matches_tooz_vectors() {
    use std::io::Write;
    let path = repo().join("../shared/vectors/hashring.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the repository expects shared/ beside it",
            path.display()
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let usable: Vec<usize> = (0..keys.len())
        .filter(|&i| !keys[i].contains('\n') && !keys[i].contains('\r'))
        .collect();
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        let nodes = case["nodes"].as_array().unwrap();
        let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
        if ids.iter().any(|id| id.contains(','))
            || case.get("owner_index_per_key").is_none()
            || case["name"].as_str().unwrap().contains("remove_node")
        {
            continue;
        }
        let mut cmd = bin();
        cmd.arg("ring")
            .arg("--partitions")
            .arg(case["partitions"].to_string());
        for n in nodes {
            cmd.arg("--member")
                .arg(format!("{},{}", n["id"].as_str().unwrap(), n["weight"]));
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = String::new();
        for &i in &usable {
            input.push_str(keys[i]);
            input.push('\n');
        }
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", case["name"]);
        let lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), usable.len(), "{}", case["name"]);
        let owners = case["owner_index_per_key"].as_array().unwrap();
        for (line, &i) in lines.iter().zip(&usable) {
            let want = ids[owners[i].as_u64().unwrap() as usize];
            assert_eq!(line, want, "case {} key {:?}", case["name"], keys[i]);
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
    println!("ring command: {checked} owners identical to tooz");
}
