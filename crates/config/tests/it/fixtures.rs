//! Real-looking files: the spec §5 option table, a Kilo-era file, and one broken file per
//! error message (each broken fixture states its exact expected message on its first line).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ceilometer_config::{
    load, DefinitionFormat, Env, Interface, LoadRequest, MeterDictForm, OutagePolicy, Severity,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn env() -> Env {
    Env {
        os_region_name: None,
        os_interface: None,
        hostname: "testhost".into(),
    }
}

fn req(files: Vec<PathBuf>) -> LoadRequest {
    LoadRequest {
        config_files: files,
        env: env(),
        home: Some(PathBuf::from("/nonexistent-home")),
        known_meters: pollster_names(),
        ..LoadRequest::default()
    }
}

fn pollster_names() -> Vec<String> {
    [
        "image.size",
        "storage.objects",
        "storage.objects.size",
        "volume.size",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

#[test]
fn every_spec_option_is_read_with_its_type() {
    let loaded = load(&req(vec![fixtures().join("spec-options.conf")]))
        .unwrap_or_else(|e| panic!("{:#?}", e.0));
    let c = &loaded.conf;
    assert_eq!(c.default.host, "ctl-7");
    assert_eq!(c.default.polling_namespaces, vec!["central"]);
    assert_eq!(
        c.default.pollsters_definitions_dirs,
        vec!["/etc/ceilometer/pollsters.d", "/opt/pollsters"]
    );
    assert_eq!(c.default.reseller_prefix, "KEY_");
    assert_eq!(c.default.sample_source, "mycloud");
    assert!(c
        .default
        .transport_url
        .as_deref()
        .unwrap()
        .starts_with("rabbit://ceilo:rabbitpw@"));
    assert_eq!(c.default.graceful_shutdown_timeout, Duration::from_secs(45));
    assert!(
        c.logging.debug && c.logging.use_syslog && c.logging.use_json && !c.logging.use_journal
    );
    assert_eq!(c.logging.syslog_log_facility, "LOG_LOCAL3");
    assert_eq!(c.logging.log_dir.as_deref(), Some("/var/log/ceilometer"));
    assert_eq!(c.logging.log_file.as_deref(), Some("central.log"));

    let p = &c.polling;
    assert_eq!(p.batch_size, 0);
    assert_eq!(p.partitioning_group_prefix.as_deref(), Some("rust"));
    assert_eq!(p.heartbeat_socket_dir.as_deref(), Some("/run/ceilometer"));
    assert!(
        p.identity_name_discovery,
        "old name tenant_name_discovery honoured"
    );
    assert!(p.ignore_disabled_projects && !p.enable_notifications && p.enable_prometheus_exporter);
    assert_eq!(
        p.prometheus_listen_addresses,
        vec!["127.0.0.1:9101", "[::1]:9101"]
    );
    assert!(p.prometheus_tls_enable);
    assert_eq!(p.threads_to_process_pollsters, 0);
    assert_eq!(p.pollsters_definitions_dirs, vec!["/etc/ceilometer/more.d"]);

    assert_eq!(
        c.coordination.backend_url.as_deref(),
        Some("redis://:redispw@127.0.0.1:6379/2?timeout=5&membership_timeout=7.5")
    );
    assert_eq!(c.coordination.heartbeat, Duration::from_millis(500));
    assert_eq!(c.coordination.member_id.as_deref(), Some("ctl-7-central"));
    assert_eq!(c.coordination.outage_policy, OutagePolicy::All);
    assert_eq!(c.publisher.telemetry_secret, "s3cret");
    assert_eq!(c.publisher_notifier.metering_topic, "metering2");
    assert_eq!(c.publisher_notifier.event_topic, "event2");
    assert_eq!(c.notifications.topics, vec!["notifications", "audit"]);
    assert_eq!(c.notifications.driver, vec!["messagingv2"]);
    assert_eq!(c.notifications.retry, 3);
    assert!(c.rabbit.ssl && c.rabbit.amqp_durable_queues);
    assert_eq!(c.rabbit.heartbeat_timeout_threshold, 30);
    assert_eq!(c.rabbit.kombu_failover_strategy, "shuffle");
    assert_eq!(c.rabbit.rabbit_interval_max, 60.0);

    let sc = &c.service_credentials;
    assert_eq!(sc.auth_type, "v3applicationcredential");
    assert_eq!(
        sc.application_credential_secret.as_deref(),
        Some("appcredpw")
    );
    assert_eq!(sc.project_domain_id.as_deref(), Some("default"));
    assert_eq!(sc.timeout, Some(Duration::from_secs_f64(12.5)));
    assert_eq!(sc.region_name.as_deref(), Some("RegionTwo"));
    assert_eq!(sc.interface, Interface::Internal);
    assert_eq!(c.service_types.cinder, "volumev2");
    assert_eq!(c.service_types.radosgw.as_deref(), Some("object-store-rgw"));
    assert_eq!(c.service_types.octavia, "lb");
    assert_eq!(
        c.rgw_admin_credentials.secret_key.as_deref(),
        Some("rgwsecret")
    );
    assert!(c.rgw_client.implicit_tenants && !c.rgw_client.insecure);
    assert_eq!(c.rgw_client.tls_min_version, "1.3");
    assert_eq!(
        c.central.publishers,
        vec!["gnocchi://?archive_policy=low", "udp://127.0.0.1:4952"]
    );
    assert_eq!(c.central.admin_listen, None);
    assert_eq!(c.central.api_concurrency, 8);
    assert_eq!(c.central.worker_threads, 3);
    assert_eq!(c.central.meter_form, Some(MeterDictForm::Kilo));
    assert!(c.cache.enabled);
    assert_eq!(c.cache.backend, "oslo_cache.dict");
    assert_eq!(c.cache.expiration_time, Duration::from_secs(300));
    assert!(
        !loaded
            .warnings
            .iter()
            .any(|w| w.to_string().contains("unknown option")),
        "every option of the table is known: {:?}",
        loaded.warnings
    );

    // polling.yaml next to the config file.
    let def = &loaded.polling;
    assert_eq!(def.format, DefinitionFormat::Polling);
    assert_eq!(def.sources.len(), 2);
    assert_eq!(
        def.sources[1].interval, 300,
        "numeric string interval, as Python's int()"
    );
    assert_eq!(def.sources[1].resources, vec!["snmp://127.0.0.1", "42"]);
    assert_eq!(
        def.sources[1].discovery,
        vec!["tenant", "endpoint:object-store"]
    );
    assert!(def.sources[1].meters.matches("image.size"));
    assert!(!def.sources[1].meters.matches("storage.objects"));

    // No secret leaks into any warning.
    for w in &loaded.warnings {
        let s = w.to_string();
        for secret in [
            "rabbitpw",
            "redispw",
            "s3cret",
            "notifpw",
            "appcredpw",
            "rgwsecret",
        ] {
            assert!(!s.contains(secret), "secret in {s}");
        }
    }
    // Secrets are masked in Debug output too.
    let dbg = format!("{:?}", c.service_credentials);
    assert!(!dbg.contains("appcredpw"), "{dbg}");
}

#[test]
fn kilo_fuel_file_with_os_names_sentinel_url_and_pipeline() {
    let dir = fixtures().join("kilo");
    let loaded =
        load(&req(vec![dir.join("ceilometer.conf")])).unwrap_or_else(|e| panic!("{:#?}", e.0));
    let c = &loaded.conf;
    let sc = &c.service_credentials;
    assert_eq!(sc.username.as_deref(), Some("ceilometer"));
    assert_eq!(sc.password.as_deref(), Some("kilopw"));
    assert_eq!(sc.project_name.as_deref(), Some("services"));
    assert_eq!(
        sc.auth_url.as_deref(),
        Some("http://192.168.0.2:5000/v2.0/")
    );
    assert_eq!(sc.region_name.as_deref(), Some("RegionOne"));
    assert_eq!(sc.interface, Interface::Internal);
    assert_eq!(sc.cafile.as_deref(), Some("/etc/ssl/ca.pem"));
    assert_eq!(c.publisher.telemetry_secret, "kilosecret");
    // Unset: the agent picks the form from the definition format (Kilo here).
    assert_eq!(c.central.meter_form, None);
    assert!(c
        .coordination
        .backend_url
        .as_deref()
        .unwrap()
        .contains("sentinel=mymaster"));
    assert_eq!(c.coordination.heartbeat, Duration::from_secs(1));
    assert_eq!(
        c.rabbit.rabbit_hosts,
        vec!["192.168.0.2:5673", "192.168.0.3:5673"]
    );
    assert_eq!(c.rabbit.rabbit_password.as_deref(), Some("rabbitkilo"));
    assert_eq!(c.default.http_timeout, Some(Duration::from_secs(60)));

    let def = &loaded.polling;
    assert_eq!(def.format, DefinitionFormat::KiloPipeline);
    assert_eq!(def.sources.len(), 2);
    assert_eq!(def.sources[1].name, "swift_source");
    assert!(
        def.sources[1].meters.matches("storage.objects"),
        "Kilo `counters` alias"
    );
    assert_eq!(def.sinks[0].publishers, vec!["notifier://"]);

    // Deprecated names are warnings naming the new name; ignored Kilo knobs say why.
    let text: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(has("[service_credentials] os-username: deprecated name; use [service_credentials] username instead"), "{text:#?}");
    assert!(
        has("[DEFAULT] shuffle_time_before_polling_task: ignored by ceilometer-central"),
        "{text:#?}"
    );
    assert!(
        has("[coordination] check_watchers: ignored by ceilometer-central"),
        "{text:#?}"
    );
    for t in &text {
        assert!(
            !t.contains("kilopw") && !t.contains("rabbitkilo") && !t.contains("kilosecret"),
            "{t}"
        );
    }
}

#[test]
fn unknown_options_are_warnings_with_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(
        dir.path().join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['image.siz', 'storage.*']\n",
    )
    .unwrap();
    std::fs::write(
        &conf,
        "[DEFAULT]\nhots = x\ntotally_other_lib_option = 1\n[polling]\nbatch_sise = 3\n",
    )
    .unwrap();
    let loaded = load(&req(vec![conf.clone()])).unwrap_or_else(|e| panic!("{:#?}", e.0));
    let text: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    let c = conf.display();
    assert!(
        text.contains(&format!(
            "{c}:2: [DEFAULT] hots: unknown option, ignored; did you mean host?"
        )),
        "{text:#?}"
    );
    assert!(
        text.contains(&format!(
            "{c}:5: [polling] batch_sise: unknown option, ignored; did you mean batch_size?"
        )),
        "{text:#?}"
    );
    assert!(
        !text.iter().any(|t| t.contains("totally_other_lib_option")),
        "other libraries' DEFAULT options are not noise"
    );
    let p = dir.path().join("polling.yaml");
    assert!(
        text.contains(&format!(
            "{}:2: source 's': meter pattern \"image.siz\" matches no known pollster; close names: image.size",
            p.display()
        )),
        "{text:#?}"
    );
}

#[test]
fn later_files_and_config_dir_override_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    std::fs::write(
        &a,
        "[polling]\nbatch_size = 10\n[DEFAULT]\npollsters_definitions_dirs = /a\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "[polling]\nbatch_size = 20\n[DEFAULT]\npollsters_definitions_dirs = /b\n",
    )
    .unwrap();
    let loaded = load(&req(vec![a.clone(), b.clone()])).unwrap();
    assert_eq!(loaded.conf.polling.batch_size, 20);
    assert_eq!(
        loaded.conf.default.pollsters_definitions_dirs,
        vec!["/a", "/b"]
    );
    let loaded = load(&req(vec![b, a])).unwrap();
    assert_eq!(loaded.conf.polling.batch_size, 10);
}

#[test]
fn environment_supplies_region_and_interface() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("polling.yaml"),
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
    let conf = dir.path().join("c.conf");
    std::fs::write(&conf, "[service_credentials]\nusername = u\n").unwrap();
    let mut r = req(vec![conf]);
    r.env.os_region_name = Some("RegionEnv".into());
    r.env.os_interface = Some("admin".into());
    let loaded = load(&r).unwrap();
    assert_eq!(
        loaded.conf.service_credentials.region_name.as_deref(),
        Some("RegionEnv")
    );
    assert_eq!(loaded.conf.service_credentials.interface, Interface::Admin);
    assert_eq!(loaded.conf.default.host, "testhost");
}

#[test]
fn cli_namespaces_other_than_central_are_refused() {
    let mut r = req(vec![fixtures().join("spec-options.conf")]);
    r.namespaces = Some(vec!["central".into(), "compute".into()]);
    let e = load(&r).unwrap_err();
    assert!(e.0.iter().any(|d| d.to_string()
        == "--polling-namespaces compute: not implemented; ceilometer-central runs the central namespace only (run ceilometer-polling for compute)"));
}

#[test]
fn every_broken_fixture_fails_with_its_message() {
    let dir = fixtures().join("broken");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let tmp = tempfile::tempdir().unwrap();
    let good_yaml = tmp.path().join("polling.yaml");
    std::fs::write(
        &good_yaml,
        "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n",
    )
    .unwrap();
    let mut checked = 0;
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        let (prefix_only, expect) = if let Some(e) = first.strip_prefix("# expect-prefix: ") {
            (true, e)
        } else {
            (
                false,
                first
                    .strip_prefix("# expect: ")
                    .unwrap_or_else(|| panic!("{} lacks '# expect:'", path.display())),
            )
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let conf = if name.ends_with(".conf") {
            // polling.yaml for .conf fixtures comes from the temp dir via an absolute cfg_file
            // in a first file, which the fixture may override.
            let base = tmp.path().join(format!("{name}.base.conf"));
            std::fs::write(
                &base,
                format!("[polling]\ncfg_file = {}\n", good_yaml.display()),
            )
            .unwrap();
            vec![base, path.clone()]
        } else {
            let key = if name.starts_with("pipeline-") {
                format!("[DEFAULT]\npipeline_cfg_file = {}\n", path.display())
            } else {
                format!("[polling]\ncfg_file = {}\n", path.display())
            };
            let c = tmp.path().join(format!("{name}.conf"));
            std::fs::write(&c, key).unwrap();
            vec![c]
        };
        let expect = expect.replace("{file}", &path.display().to_string());
        let err = match load(&req(conf)) {
            Ok(_) => panic!("{name}: loaded, expected: {expect}"),
            Err(e) => e,
        };
        let errors: Vec<String> = err
            .0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        let ok = if prefix_only {
            errors.iter().any(|e| e.starts_with(&expect))
        } else {
            errors.contains(&expect)
        };
        assert!(
            ok,
            "{name}: expected\n  {expect}\ngot\n  {}",
            errors.join("\n  ")
        );
        for e in &errors {
            assert!(!e.contains("p4ss"), "secret leaked: {e}");
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures");
    println!("{checked} broken fixtures fail with their exact message");
}

#[test]
fn all_problems_are_reported_not_just_the_first() {
    let e = load(&req(vec![fixtures().join("broken/bad-secret.conf")])).unwrap_err();
    let errors: Vec<String> =
        e.0.iter()
            .filter(|d| d.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
    assert!(
        errors
            .iter()
            .any(|x| x.contains("[service_credentials] insecure")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|x| x.contains("[ceilometer_central] api_concurrency")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|x| x
                .contains("polling definition polling.yaml (or a Kilo pipeline.yaml) not found")),
        "{errors:#?}"
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let e = load(&req(vec![PathBuf::from("/nonexistent/ceilometer.conf")])).unwrap_err();
    assert!(
        e.0[0]
            .to_string()
            .starts_with("/nonexistent/ceilometer.conf: cannot read configuration file:"),
        "{:?}",
        e.0
    );
}
