//! Signing in the ways Azure admins do, through the built shell against the simulator, which
//! verifies each method as Entra ID and the Azure hosts do: client certificate (PEM and PFX),
//! workload identity (with a rotated token file), managed identity (App Service and IMDS,
//! system- and user-assigned), the Azure CLI (a stand-in `az` on PATH), the default chain
//! picking each in turn, the failures each method documents, and no secret, key, assertion or
//! token in anything the shell prints or writes. Keys and certificates are the TEST-ONLY fixtures
//! in tests/fixtures/signin.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Pty, Tenant, isolated_command, stderr_of, stdout_of};
use graph_sim::{FederatedTrust, ManagedIdentity, SimConfig, TrustedCertificate};

const T: Duration = Duration::from_secs(60);
const ISSUER: &str = "https://oidc.test-only.example/cluster-1";
const SUBJECT: &str = "system:serviceaccount:analytics:teams-sql";
const IDENTITY_HEADER: &str = "test-only-identity-header-9f3c";
const USER_ASSIGNED: &str = "11111111-2222-3333-4444-555555555555";
const PFX_PASSWORD: &str = "test-only-pfx-password";
const QUERY: &str = "SELECT count(*) AS n FROM teams";

fn fixture(name: &str) -> PathBuf {
    common::readme::repo_root()
        .join("tests/fixtures/signin")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn sim_config() -> SimConfig {
    SimConfig {
        client_certificate: Some(TrustedCertificate::from_pem(&read("app.crt")).unwrap()),
        federated: Some(
            FederatedTrust::new(ISSUER.into(), SUBJECT.into(), &read("issuer-jwks.json")).unwrap(),
        ),
        managed_identity: ManagedIdentity {
            identity_header: Some(IDENTITY_HEADER.into()),
            imds: true,
            user_assigned_client_ids: vec![USER_ASSIGNED.into()],
        },
        ..SimConfig::for_tests()
    }
}

/// A federated token as a Kubernetes OIDC issuer signs it, expiring `exp_in` seconds from now.
fn federated_token(iss: &str, sub: &str, exp_in: i64) -> String {
    let b64: String = read("issuer.key")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&STANDARD.decode(b64).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "test-only-issuer-key"});
    let claims = serde_json::json!({
        "iss": iss, "sub": sub, "aud": ["api://AzureADTokenExchange"],
        "iat": now, "nbf": now, "exp": now + exp_in,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The shell with a clean environment and nothing but `env`, pointed at the simulator.
fn shell(t: &Tenant, cwd: &Path, env: &[(&str, String)]) -> Command {
    let server = t.server.as_ref().unwrap();
    let mut cmd = isolated_command(t.home.path(), cwd);
    cmd.args(["--graph-endpoint", &server.graph_url()])
        .args(["--authority-host", &server.authority_url()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn app_ids() -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID.to_string()),
        ("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID.to_string()),
    ]
}

fn with(
    mut base: Vec<(&'static str, String)>,
    more: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    base.extend(more.iter().cloned());
    base
}

/// Runs `QUERY` then `\conn` (so the default chain has signed in) and returns the output.
fn run(cmd: &mut Command, extra: &[&str]) -> Output {
    cmd.args(extra)
        .args(["--format", "csv", "-q", "-c", QUERY, "-c", "\\conn"])
        .output()
        .unwrap()
}

fn assert_reads_teams(out: &Output, t: &Tenant) -> String {
    let stdout = stdout_of(out);
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        stderr_of(out)
    );
    let n = t.sim().team_ids().len();
    assert!(stdout.starts_with(&format!("n\n{n}\n")), "{stdout}");
    stdout
}

/// A stand-in `az` in `dir` answering `az account get-access-token` with `token` the way the
/// Azure CLI does, and recording its arguments in `dir/args`.
fn stand_in_az(dir: &Path, token: &str) {
    let expires_on = chrono::Utc::now().timestamp() + 3600;
    let local = (chrono::Local::now() + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S%.6f");
    let json = format!(
        "{{\n  \"accessToken\": \"{token}\",\n  \"expiresOn\": \"{local}\",\n  \"expires_on\": {expires_on},\n  \"subscription\": \"00000000-0000-0000-0000-00000000000a\",\n  \"tenant\": \"{}\",\n  \"tokenType\": \"Bearer\"\n}}",
        graph_sim::DEFAULT_TENANT_ID
    );
    // Shell builtins only: the tests give the shell a PATH holding nothing but this script.
    let script = format!(
        "#!/bin/sh\necho \"$@\" > '{}/args'\nprintf '%s\\n' '{json}'\n",
        dir.display()
    );
    write_script(&dir.join("az"), &script);
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An access token the simulator issued: what `az login` would have cached.
fn sim_token(t: &Tenant, secret: &str) -> String {
    let server = t.server.as_ref().unwrap();
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        server.authority_url(),
        graph_sim::DEFAULT_TENANT_ID
    );
    t.rt.block_on(async {
        reqwest::Client::new()
            .post(url)
            .form(&[
                ("client_id", graph_sim::DEFAULT_CLIENT_ID),
                ("client_secret", secret),
                ("scope", graph_sim::GRAPH_SCOPE),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    })
}

#[test]
fn certificate_as_pem_and_as_pfx() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let pem = with(
        app_ids(),
        &[(
            "AZURE_CLIENT_CERTIFICATE_PATH",
            fixture("app.pem").display().to_string(),
        )],
    );
    let out = run(&mut shell(&t, cwd.path(), &pem), &["--auth", "certificate"]);
    let stdout = assert_reads_teams(&out, &t);
    assert!(stdout.contains("sign-in: client certificate"), "{stdout}");
    assert!(stdout.contains("thumbprint"), "{stdout}");

    let pfx = with(
        app_ids(),
        &[
            (
                "AZURE_CLIENT_CERTIFICATE_PATH",
                fixture("app.pfx").display().to_string(),
            ),
            (
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                PFX_PASSWORD.to_string(),
            ),
            ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true".to_string()),
        ],
    );
    let out = run(&mut shell(&t, cwd.path(), &pfx), &["--auth", "certificate"]);
    assert_reads_teams(&out, &t);

    // The legacy encryption of Windows' TripleDES-SHA1 export and OpenSSL 1.x.
    let legacy = with(
        app_ids(),
        &[
            (
                "AZURE_CLIENT_CERTIFICATE_PATH",
                fixture("app-legacy.pfx").display().to_string(),
            ),
            (
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                PFX_PASSWORD.to_string(),
            ),
        ],
    );
    let out = run(
        &mut shell(&t, cwd.path(), &legacy),
        &["--auth", "certificate"],
    );
    assert_reads_teams(&out, &t);
}

#[test]
fn a_wrong_certificate_and_a_wrong_pfx_password_say_what_to_fix() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let other = with(
        app_ids(),
        &[(
            "AZURE_CLIENT_CERTIFICATE_PATH",
            fixture("other.pem").display().to_string(),
        )],
    );
    let out = run(
        &mut shell(&t, cwd.path(), &other),
        &["--auth", "certificate"],
    );
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("AADSTS700027"), "{err}");
    assert!(err.contains("not one registered on the app"), "{err}");

    let wrong = with(
        app_ids(),
        &[
            (
                "AZURE_CLIENT_CERTIFICATE_PATH",
                fixture("app.pfx").display().to_string(),
            ),
            (
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                "not-the-pfx-password".to_string(),
            ),
        ],
    );
    let out = run(
        &mut shell(&t, cwd.path(), &wrong),
        &["--auth", "certificate"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong"),
        "{err}"
    );
    assert!(!err.contains("not-the-pfx-password"), "{err}");
}

#[test]
fn workload_identity_follows_a_rotated_token_file() {
    // Short-lived access tokens, so each statement below needs a new one.
    let t = Tenant::start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..sim_config()
    });
    let cwd = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let file = inputs.path().join("azure-identity-token");
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, 3600)).unwrap();
    let env = with(
        app_ids(),
        &[("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())],
    );
    let mut cmd = shell(&t, cwd.path(), &env);
    cmd.args(["--auth", "workload-identity"]);
    let mut pty = Pty::spawn(cmd);
    pty.expect("teams-sql> ", T);
    let q = "SELECT 'teams:' || CAST(count(*) AS VARCHAR) AS r FROM teams;\r";
    pty.send(q);
    pty.expect("teams:3", T);

    // The kubelet replaces the file; a stale token in it is refused (so the file was re-read)...
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, -3600)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    pty.send(q);
    let out = pty.expect("AADSTS700024", T);
    assert!(out.contains("token file is stale"), "{out}");
    // ...and a fresh one signs in again, once the failure is no longer replayed (5 s).
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, 3600)).unwrap();
    std::thread::sleep(Duration::from_millis(5200));
    pty.send(q);
    pty.expect("teams:3", T);
    pty.expect("teams-sql> ", T);
    pty.send("\\q\r");
    assert!(pty.wait(T).success());
}

#[test]
fn a_federated_token_from_an_unknown_issuer_is_refused_with_the_fix() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let file = inputs.path().join("token");
    std::fs::write(
        &file,
        federated_token("https://oidc.elsewhere.example", SUBJECT, 3600),
    )
    .unwrap();
    let env = with(
        app_ids(),
        &[("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())],
    );
    let out = run(
        &mut shell(&t, cwd.path(), &env),
        &["--auth", "workload-identity"],
    );
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("AADSTS700211"), "{err}");
    assert!(err.contains("issuer is not trusted"), "{err}");
}

#[test]
fn managed_identity_system_and_user_assigned() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let graph = t.server.as_ref().unwrap().graph_url();
    let app_service = vec![
        ("IDENTITY_ENDPOINT", format!("{graph}/msi/token")),
        ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
    ];
    let imds = vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", graph.clone())];
    for env in [app_service.clone(), imds] {
        let out = run(
            &mut shell(&t, cwd.path(), &env),
            &["--auth", "managed-identity"],
        );
        let stdout = assert_reads_teams(&out, &t);
        assert!(stdout.contains("system-assigned"), "{stdout}");

        let user = with(
            env.clone(),
            &[("AZURE_CLIENT_ID", USER_ASSIGNED.to_string())],
        );
        let out = run(
            &mut shell(&t, cwd.path(), &user),
            &["--auth", "managed-identity"],
        );
        let stdout = assert_reads_teams(&out, &t);
        assert!(
            stdout.contains(&format!("user-assigned, client id {USER_ASSIGNED}")),
            "{stdout}"
        );
    }
    let stale = vec![
        ("IDENTITY_ENDPOINT", format!("{graph}/msi/token")),
        ("IDENTITY_HEADER", "stale-header-0000".to_string()),
    ];
    let out = run(
        &mut shell(&t, cwd.path(), &stale),
        &["--auth", "managed-identity"],
    );
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("IDENTITY_HEADER does not match"), "{err}");
}

#[test]
fn azure_cli_through_a_stand_in_az() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    stand_in_az(bin.path(), &sim_token(&t, graph_sim::DEFAULT_CLIENT_SECRET));
    let env = vec![
        ("PATH", bin.path().display().to_string()),
        ("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID.to_string()),
    ];
    let out = run(&mut shell(&t, cwd.path(), &env), &["--auth", "azure-cli"]);
    let stdout = assert_reads_teams(&out, &t);
    assert!(stdout.contains("sign-in: Azure CLI"), "{stdout}");
    let args = std::fs::read_to_string(bin.path().join("args")).unwrap();
    assert_eq!(
        args.trim(),
        format!(
            "account get-access-token --resource https://graph.microsoft.com -o json --tenant {}",
            graph_sim::DEFAULT_TENANT_ID
        )
    );

    // National clouds: the CLI is asked for that cloud's Graph.
    let out = run(
        &mut shell(&t, cwd.path(), &env),
        &["--auth", "azure-cli", "--cloud", "usgov"],
    );
    assert_reads_teams(&out, &t);
    let args = std::fs::read_to_string(bin.path().join("args")).unwrap();
    assert!(
        args.contains("--resource https://graph.microsoft.us "),
        "{args}"
    );

    // Signed out: az says so on stderr, and so does the shell.
    write_script(
        &bin.path().join("az"),
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    );
    let out = run(&mut shell(&t, cwd.path(), &env), &["--auth", "azure-cli"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("not signed in"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("run az login --tenant"),
        "{}",
        stderr_of(&out)
    );

    // No az at all.
    let empty = tempfile::tempdir().unwrap();
    let env = vec![("PATH", empty.path().display().to_string())];
    let out = run(&mut shell(&t, cwd.path(), &env), &["--auth", "azure-cli"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("Azure CLI (az) is not installed or not on PATH"),
        "{err}"
    );
}

#[test]
fn the_default_chain_picks_each_method_in_turn() {
    let t = Tenant::start(sim_config());
    let cwd = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let graph = t.server.as_ref().unwrap().graph_url();
    let token_file = inputs.path().join("token");
    std::fs::write(&token_file, federated_token(ISSUER, SUBJECT, 3600)).unwrap();
    stand_in_az(
        inputs.path(),
        &sim_token(&t, graph_sim::DEFAULT_CLIENT_SECRET),
    );
    let empty = tempfile::tempdir().unwrap();
    let empty_path = ("PATH", empty.path().display().to_string());
    // Nowhere to reach IMDS, so the chain goes on to the Azure CLI at once.
    let no_imds = (
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "http://127.0.0.1:1".to_string(),
    );
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            with(
                app_ids(),
                &[
                    (
                        "AZURE_CLIENT_SECRET",
                        graph_sim::DEFAULT_CLIENT_SECRET.to_string(),
                    ),
                    (
                        "AZURE_FEDERATED_TOKEN_FILE",
                        token_file.display().to_string(),
                    ),
                    empty_path.clone(),
                ],
            ),
            "default chain: client secret",
        ),
        (
            with(
                app_ids(),
                &[
                    (
                        "AZURE_CLIENT_CERTIFICATE_PATH",
                        fixture("app.pem").display().to_string(),
                    ),
                    (
                        "AZURE_FEDERATED_TOKEN_FILE",
                        token_file.display().to_string(),
                    ),
                    empty_path.clone(),
                ],
            ),
            "default chain: client certificate",
        ),
        (
            with(
                app_ids(),
                &[
                    (
                        "AZURE_FEDERATED_TOKEN_FILE",
                        token_file.display().to_string(),
                    ),
                    ("IDENTITY_ENDPOINT", format!("{graph}/msi/token")),
                    ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
                    empty_path.clone(),
                ],
            ),
            "default chain: workload identity",
        ),
        (
            vec![
                ("IDENTITY_ENDPOINT", format!("{graph}/msi/token")),
                ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
                ("PATH", inputs.path().display().to_string()),
            ],
            "default chain: managed identity",
        ),
        (
            vec![
                no_imds.clone(),
                ("PATH", inputs.path().display().to_string()),
            ],
            "default chain: Azure CLI",
        ),
    ];
    for (env, expected) in cases {
        let out = run(&mut shell(&t, cwd.path(), &env), &[]);
        let stdout = assert_reads_teams(&out, &t);
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }

    // Nothing applies: each method is listed with why, in a few lines.
    let out = run(
        &mut shell(&t, cwd.path(), &[no_imds, empty_path]),
        &["--auth", "default"],
    );
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("no sign-in method is available"), "{err}");
    for line in [
        "environment: not configured",
        "workload identity: not configured (AZURE_FEDERATED_TOKEN_FILE not set)",
        "managed identity: no managed identity endpoint at http://127.0.0.1:1",
        "Azure CLI: the Azure CLI (az) is not installed",
    ] {
        assert!(err.contains(line), "{line}: {err}");
    }
    assert!(err.lines().count() <= 12, "{err}");
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn no_secret_key_assertion_or_token_in_output_history_or_files() {
    let secret = "Xq8~test.only-Secret_4mZ2";
    let t = Tenant::start(SimConfig {
        client_secret: secret.to_string(),
        ..sim_config()
    });
    let cwd = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let graph = t.server.as_ref().unwrap().graph_url();
    let token_file = inputs.path().join("token");
    let federated = federated_token(ISSUER, SUBJECT, 3600);
    std::fs::write(&token_file, &federated).unwrap();
    let cli_token = sim_token(&t, secret);
    stand_in_az(inputs.path(), &cli_token);
    let mut outputs = String::new();
    let sessions: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "secret",
            with(app_ids(), &[("AZURE_CLIENT_SECRET", secret.to_string())]),
        ),
        (
            "certificate",
            with(
                app_ids(),
                &[
                    (
                        "AZURE_CLIENT_CERTIFICATE_PATH",
                        fixture("app.pfx").display().to_string(),
                    ),
                    (
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                        PFX_PASSWORD.to_string(),
                    ),
                ],
            ),
        ),
        (
            "workload-identity",
            with(
                app_ids(),
                &[(
                    "AZURE_FEDERATED_TOKEN_FILE",
                    token_file.display().to_string(),
                )],
            ),
        ),
        (
            "managed-identity",
            vec![
                ("IDENTITY_ENDPOINT", format!("{graph}/msi/token")),
                ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
            ],
        ),
        (
            "azure-cli",
            vec![("PATH", inputs.path().display().to_string())],
        ),
    ];
    for (method, env) in &sessions {
        // The REPL (history), verbose logging, \conn, a query, and a failing statement.
        let mut cmd = shell(&t, cwd.path(), env);
        cmd.args(["--auth", method, "--verbose"]);
        let mut pty = Pty::spawn(cmd);
        pty.expect("teams-sql> ", T);
        pty.send("SELECT count(*) AS team_total FROM teams;\r");
        pty.expect("team_total", T);
        pty.expect("teams-sql> ", T);
        pty.send("\\conn\r");
        pty.expect("settings from", T);
        pty.expect("teams-sql> ", T);
        pty.send("SELECT * FROM no_such_table;\r");
        pty.expect("not found", T);
        pty.expect("teams-sql> ", T);
        pty.send("\\q\r");
        assert!(pty.wait(T).success(), "{method}");
        outputs.push_str(&pty.all_output());
        // And the failure paths: a wrong certificate, a bad token file.
    }
    for (env, auth) in [
        (
            with(
                app_ids(),
                &[(
                    "AZURE_CLIENT_CERTIFICATE_PATH",
                    fixture("other.pem").display().to_string(),
                )],
            ),
            "certificate",
        ),
        (
            with(
                app_ids(),
                &[("AZURE_CLIENT_SECRET", "Wr0ng~test.only-Secret".to_string())],
            ),
            "secret",
        ),
    ] {
        let out = run(
            &mut shell(&t, cwd.path(), &env),
            &["--auth", auth, "--verbose"],
        );
        outputs.push_str(&stdout_of(&out));
        outputs.push_str(&stderr_of(&out));
    }

    let key_lines: Vec<String> = ["app.pem", "other.pem", "issuer.key"]
        .iter()
        .flat_map(|f| {
            read(f)
                .lines()
                .skip_while(|l| !l.contains("PRIVATE KEY"))
                .skip(1)
                .take(3)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut written = String::new();
    let mut paths = Vec::new();
    files(t.home.path(), &mut paths);
    files(cwd.path(), &mut paths);
    assert!(paths.iter().any(|p| p.ends_with("history")), "{paths:?}");
    for p in &paths {
        written.push_str(&String::from_utf8_lossy(&std::fs::read(p).unwrap()));
    }
    for (what, text) in [("output", &outputs), ("files written", &written)] {
        for needle in [
            secret,
            "Wr0ng~test.only-Secret",
            PFX_PASSWORD,
            IDENTITY_HEADER,
            &federated,
            &cli_token,
        ] {
            assert!(
                !text.contains(needle),
                "{what} holds a secret or token ({needle:.12}...)"
            );
        }
        for line in &key_lines {
            assert!(
                !text.contains(line.as_str()),
                "{what} holds private key material"
            );
        }
        // Every JWT (client assertion, federated token, access token) starts with `eyJ`, the
        // base64 of `{"`.
        assert!(!text.contains("eyJ"), "{what} holds a JWT");
    }
}
