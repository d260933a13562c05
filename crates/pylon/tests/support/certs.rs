//! Test certificates: a CA made with `openssl` and the certificates it signs, as
//! `kubernetes.io/tls` Secrets.

use std::path::Path;
use std::process::Command;

/// A CA, and a certificate it signs for `names` (DNS subject alternative names).
pub fn issue(dir: &Path, ca: &str, name: &str, names: &[&str]) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if !dir.join(format!("{ca}.crt")).exists() {
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ]);
    }
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={}", names[0]),
        "-keyout",
        &format!("{name}.key"),
        "-out",
        &format!("{name}.csr"),
    ]);
    let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    std::fs::write(
        dir.join(format!("{name}.ext")),
        format!("subjectAltName={}\n", san.join(",")),
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &format!("{name}.csr"),
        "-CA",
        &format!("{ca}.crt"),
        "-CAkey",
        &format!("{ca}.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &format!("{name}.ext"),
        "-out",
        &format!("{name}.crt"),
    ]);
}

/// A `kubernetes.io/tls` Secret in namespace `infra`.
pub fn secret(name: &str, crt: &str, key: &str) -> String {
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: infra}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(crt),
        indent(key)
    )
}
