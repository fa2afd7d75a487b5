//! A throwaway PKI for TLS tests, made with the `openssl` CLI at test time: a CA, a server
//! certificate for `127.0.0.1` and `localhost` (also usable as a client certificate, as
//! redis-server and redis-sentinel use it for replication), a client certificate, a second
//! unrelated CA with a client certificate of its own, a server certificate whose names do not
//! include `127.0.0.1`, and a self-signed server certificate for `127.0.0.1` (no CA at all).
//! EC P-256 keys in PKCS#8 PEM. A missing `openssl` FAILS the test with the install command.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const INSTALL_OPENSSL: &str = "apt-get install -y openssl";

const CA_CNF: &str = "[req]\ndistinguished_name = dn\n[dn]\n\
[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
subjectKeyIdentifier = hash\n";

const LEAF_CNF: &str = "[server]\nbasicConstraints = critical,CA:FALSE\n\
keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth,clientAuth\n\
subjectAltName = IP:127.0.0.1,DNS:localhost\n\
[wrong_name]\nbasicConstraints = critical,CA:FALSE\n\
keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth,clientAuth\n\
subjectAltName = DNS:redis.invalid\n\
[client]\nbasicConstraints = critical,CA:FALSE\n\
keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n";

/// The files of a throwaway PKI (deleted with `dir`).
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA every server and client certificate below chains to.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA unrelated to `ca`: it signed only `other_client_cert`.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`: a server trusting `ca` refuses it.
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
    /// A self-signed server certificate for `127.0.0.1` and `localhost`: verifies against
    /// no CA (only `insecure`-style clients accept it).
    pub self_signed_cert: PathBuf,
    pub self_signed_key: PathBuf,
    /// Signed by `ca`, but for `redis.invalid` only: fails host name verification.
    pub wrong_name_cert: PathBuf,
    pub wrong_name_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}; install it with `{INSTALL_OPENSSL}`"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate: a CA (`ca.cnf`, `v3_ca`) or a leaf (`self.cnf`, `section`).
fn self_signed_with(dir: &Path, name: &str, config: &str, extensions: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=ceilometer-central test {name}"),
            "-config",
            config,
            "-extensions",
            extensions,
        ],
    );
}

fn ca(dir: &Path, name: &str) {
    self_signed_with(dir, name, "ca.cnf", "v3_ca");
}

/// A self-signed certificate with the leaf extensions of `section` (not a CA).
fn self_signed(dir: &Path, name: &str, section: &str) {
    self_signed_with(dir, name, "self.cnf", section);
}

fn leaf(dir: &Path, name: &str, section: &str, serial: &str) {
    leaf_of(dir, "ca", name, section, serial);
}

/// A leaf signed by the CA `ca` (`<ca>.pem` / `<ca>.key`).
fn leaf_of(dir: &Path, ca: &str, name: &str, section: &str, serial: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN=ceilometer-central test {name}"),
            "-config",
            "ca.cnf",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            serial,
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            "leaf.cnf",
            "-extensions",
            section,
        ],
    );
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ca.cnf"), CA_CNF).unwrap();
        std::fs::write(d.join("leaf.cnf"), LEAF_CNF).unwrap();
        std::fs::write(
            d.join("self.cnf"),
            format!("[req]\ndistinguished_name = dn\n[dn]\n{LEAF_CNF}"),
        )
        .unwrap();
        ca(d, "ca");
        ca(d, "other-ca");
        leaf(d, "server", "server", "0x1001");
        leaf(d, "client", "client", "0x1002");
        leaf(d, "wrong-name", "wrong_name", "0x1003");
        leaf_of(d, "other-ca", "other-client", "client", "0x2001");
        self_signed(d, "self-signed", "server");
        let f = |n: &str| d.join(n);
        Pki {
            ca: f("ca.pem"),
            server_cert: f("server.pem"),
            server_key: f("server.key"),
            client_cert: f("client.pem"),
            client_key: f("client.key"),
            other_ca: f("other-ca.pem"),
            other_client_cert: f("other-client.pem"),
            other_client_key: f("other-client.key"),
            self_signed_cert: f("self-signed.pem"),
            self_signed_key: f("self-signed.key"),
            wrong_name_cert: f("wrong-name.pem"),
            wrong_name_key: f("wrong-name.key"),
            dir,
        }
    }

    /// `--tls-cert-file … --tls-key-file … --tls-ca-cert-file …` for redis-server.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert-file".into(),
            self.server_cert.display().to_string(),
            "--tls-key-file".into(),
            self.server_key.display().to_string(),
            "--tls-ca-cert-file".into(),
            self.ca.display().to_string(),
        ]
    }
}
