//! Arbitrary bytes never make the INI or YAML readers (or the typed layer) panic.
#![allow(missing_docs)]

use std::path::Path;

use ceilometer_config::ini::IniFile;
use ceilometer_config::options::{CeilometerConf, Env};
use ceilometer_config::polling::parse_definition;
use ceilometer_config::store::Store;
use ceilometer_config::DefinitionFormat;
use proptest::prelude::*;

fn ini_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[DEFAULT]".to_owned()),
        Just("[polling]".to_owned()),
        Just("[coordination]".to_owned()),
        Just("[service_credentials]".to_owned()),
        "[a-z_]{1,12} = [ -~]{0,20}",
        "(batch_size|debug|heartbeat|interface|host|log_dir|backend_url) ?[=:] ?[$ -~]{0,16}",
        "[ \t][ -~]{0,10}",
        "[#;][ -~]{0,10}",
        "[ -~]{0,30}",
    ];
    prop::collection::vec(line, 0..20).prop_map(|v| v.join("\n"))
}

fn yaml_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("sources:".to_owned()),
        Just("sinks:".to_owned()),
        Just("  - name: s".to_owned()),
        "    (interval|meters|resources|discovery|publishers|transformers|counters|sinks): [ -~]{0,12}",
        "      - [ -~]{0,10}",
        "[ -~]{0,30}",
    ];
    prop::collection::vec(line, 0..20).prop_map(|v| v.join("\n"))
}

fn exercise_ini(text: &str) {
    if let Ok(f) = IniFile::parse(Path::new("f.conf"), text) {
        let mut s = Store::new(vec![f]);
        let _ = CeilometerConf::from_store(&mut s, &Env::default());
        let _ = s.take_diagnostics();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn ini_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise_ini(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn ini_never_panics_on_ini_like_text(text in ini_like()) {
        exercise_ini(&text);
    }

    #[test]
    fn yaml_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_definition(Path::new("p.yaml"), &text, DefinitionFormat::Polling);
        let _ = parse_definition(Path::new("p.yaml"), &text, DefinitionFormat::KiloPipeline);
    }

    #[test]
    fn yaml_never_panics_on_yaml_like_text(text in yaml_like()) {
        let _ = parse_definition(Path::new("p.yaml"), &text, DefinitionFormat::Polling);
        let _ = parse_definition(Path::new("p.yaml"), &text, DefinitionFormat::KiloPipeline);
    }
}
