//! Helpers for the end-to-end tests: a simulated tenant in the test process, the built
//! `teams-sql` binary pointed at it through the same flags and AZURE_* variables a user sets,
//! and a pseudo-terminal for REPL sessions.

#![allow(dead_code)]

pub mod hostile;
pub mod readme;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use graph_sim::{Sim, SimConfig, SimServer};

pub const BIN: &str = env!("CARGO_BIN_EXE_teams-sql");

/// A running simulated tenant plus a private home for the shell (history, config).
pub struct Tenant {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<SimServer>,
    pub home: tempfile::TempDir,
}

impl Tenant {
    pub fn start(cfg: SimConfig) -> Tenant {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(graph_sim::start(cfg)).unwrap();
        Tenant {
            rt,
            server: Some(server),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Small tenant, no latency, no throttling: the shape used by most tests.
    pub fn small() -> Tenant {
        Tenant::start(SimConfig::for_tests())
    }

    pub fn sim(&self) -> Sim {
        self.server.as_ref().unwrap().sim()
    }

    pub fn data_home(&self) -> PathBuf {
        self.home.path().join("data")
    }

    pub fn history_file(&self) -> PathBuf {
        self.data_home().join("teams-sql").join("history")
    }

    /// The binary with credentials in the environment and endpoints on the command line.
    pub fn command(&self, cwd: &Path) -> Command {
        let server = self.server.as_ref().unwrap();
        let mut cmd = isolated_command(self.home.path(), cwd);
        cmd.env("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID)
            .env("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
            .arg("--graph-endpoint")
            .arg(server.graph_url())
            .arg("--authority-host")
            .arg(server.authority_url());
        cmd
    }

    pub fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(cwd).args(args).output().unwrap()
    }

    /// Runs with `--format csv -q` and returns stdout, panicking with stderr on failure.
    pub fn csv(&self, cwd: &Path, sql: &str) -> String {
        let out = self.run(cwd, &["--format", "csv", "-q", "-c", sql]);
        assert!(
            out.status.success(),
            "{sql}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
    }
}

/// The binary with a clean environment: no AZURE_* from the developer's shell, history and
/// config in a temporary home.
pub fn isolated_command(home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    cmd
}

pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Sorted non-header CSV lines.
pub fn csv_rows(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    rows.sort();
    rows
}

/// A process attached to a pseudo-terminal that is its controlling terminal, so that a
/// Ctrl-C typed into it becomes SIGINT exactly as in a real terminal.
pub struct Pty {
    pub child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    seen: usize,
}

impl Pty {
    pub fn spawn(mut cmd: Command) -> Pty {
        let winsize = nix::pty::Winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&winsize), None).unwrap();
        let slave: OwnedFd = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        Pty {
            child,
            master,
            output,
            seen: 0,
        }
    }

    pub fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits until `needle` appears in output not yet consumed; returns the output up to and
    /// including it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.output.lock().unwrap();
                let text = String::from_utf8_lossy(&out[self.seen..]).into_owned();
                if let Some(i) = text.find(needle) {
                    let upto = &text[..i + needle.len()];
                    self.seen += upto.len();
                    return upto.to_string();
                }
                if Instant::now() > deadline {
                    panic!("timed out waiting for {needle:?}; output so far:\n{text}");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn all_output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("process did not exit; output:\n{}", self.all_output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.master.as_raw_fd()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Query results as CSV with a header, for comparing what was written with what was read back.
pub fn to_csv(batches: &[RecordBatch]) -> String {
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for b in batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}
