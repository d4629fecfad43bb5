//! The `portico` binary as an operator meets it: its subcommands, and one
//! clear sentence (never a panic) for each kind of bad start.

use crate::harness::{TestDb, free_port};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portico");

/// The binary with a clean environment of PORTICO_* settings.
fn portico(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("PORTICO_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PORTICO_LOG", "warn");
    cmd.stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failed start: non-zero, one `portico:` line, no panic.
fn assert_clear_failure(output: &Output, expected: &str) -> String {
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("portico: "))
        .unwrap_or_else(|| panic!("no portico: line in {stderr}"));
    line.to_owned()
}

#[test]
fn every_subcommand_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create-practice", "--help"],
        vec!["admin", "reset-password", "--help"],
        vec!["admin", "list-practices", "--help"],
    ] {
        let output = portico(dir.path()).args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        let help = text(&output.stdout);
        assert!(help.contains("Usage: portico"), "{args:?}: {help}");
    }
}

#[test]
fn a_malformed_config_file_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("portico.toml"), "listen = [oops").unwrap();
    let output = portico(dir.path())
        .args(["--config", "portico.toml", "migrate"])
        .output()
        .unwrap();
    assert_clear_failure(&output, "the configuration file portico.toml is not valid");

    std::fs::write(dir.path().join("portico.toml"), "colour = \"blue\"\n").unwrap();
    let output = portico(dir.path())
        .args(["--config", "portico.toml", "migrate"])
        .output()
        .unwrap();
    assert_clear_failure(&output, "colour");
}

#[test]
fn a_bad_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = portico(dir.path())
        .env("PORTICO_LISTEN", "everywhere")
        .arg("migrate")
        .output()
        .unwrap();
    assert_clear_failure(&output, "listen (PORTICO_LISTEN)");

    let output = portico(dir.path())
        .args(["--database-url", "mysql://localhost/portico", "migrate"])
        .output()
        .unwrap();
    assert_clear_failure(&output, "must start with sqlite:// or postgres://");
}

#[test]
fn an_unusable_data_folder_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-a-folder"), "x").unwrap();
    let output = portico(dir.path())
        .args(["--data-dir", "not-a-folder/data", "migrate"])
        .output()
        .unwrap();
    assert_clear_failure(
        &output,
        "could not create the data folder not-a-folder/data",
    );
}

#[test]
fn an_unreachable_database_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let output = portico(dir.path())
        .args([
            "--database-url",
            "postgres://portico:hunter2@127.0.0.1:9/portico",
            "migrate",
        ])
        .output()
        .unwrap();
    let line = assert_clear_failure(
        &output,
        "could not open the database at postgres://portico:***@127.0.0.1:9/portico",
    );
    assert!(!text(&output.stderr).contains("hunter2"), "{line}");
}

/// Starts `portico serve` and waits until it prints that it is running.
struct Serving {
    child: std::process::Child,
    stdout: Vec<String>,
}

impl Serving {
    fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        let mut child = portico(dir)
            .args(args)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let done = line.starts_with("Press Ctrl-C");
                    lines.push(line);
                    if done {
                        return Self {
                            child,
                            stdout: lines,
                        };
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        let _ = child.wait();
                        panic!("serve exited with {status}: {lines:?}");
                    }
                }
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve did not start: {lines:?}");
    }

    fn stop(mut self) -> std::process::ExitStatus {
        // SIGTERM, as an orchestrator would send.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_on_a_fresh_folder_says_how_to_sign_in_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serving = Serving::start(dir.path(), &["--listen", &listen]);
    let out = serving.stdout.join("\n");
    assert!(
        out.contains(&format!("Portico is running at http://{listen}")),
        "{out}"
    );
    assert!(out.contains("a demo practice was created"), "{out}");
    assert!(out.contains("olivia@harbourvale.example"), "{out}");
    assert!(out.contains("password: "), "{out}");
    assert!(dir.path().join("portico-data/portico.db").exists());

    // A second server on the same port stops with a clear sentence.
    let output = portico(dir.path())
        .args(["--listen", &listen, "--data-dir", "other-data", "serve"])
        .output()
        .unwrap();
    assert_clear_failure(&output, &format!("could not listen on {listen}"));

    let status = serving.stop();
    assert!(status.success(), "graceful stop: {status}");

    // The second start finds the practice and creates no second demo.
    let serving = Serving::start(dir.path(), &["--listen", &listen]);
    let out = serving.stdout.join("\n");
    assert!(!out.contains("demo practice was created"), "{out}");
    serving.stop();
}

#[test]
fn admin_commands_manage_practices_and_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let url = db.url.clone();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = portico(dir.path());
        cmd.args(["--database-url", &url]).args(args);
        if let Some(input) = stdin {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        } else {
            cmd.output().unwrap()
        }
    };

    let output = run(&["migrate"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("is up to date"));

    let output = run(&["admin", "list-practices"], None);
    assert!(text(&output.stdout).contains("No practices yet."));

    let output = run(
        &[
            "admin",
            "create-practice",
            "--name",
            "Fenwick Law",
            "--admin-name",
            "Fiona Fenwick",
            "--admin-email",
            "Fiona@Fenwick.example",
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(out.contains("Created the practice Fenwick Law"), "{out}");
    assert!(out.contains("fiona@fenwick.example"), "{out}");
    assert!(out.contains("Password (shown only now): "), "{out}");

    let output = run(
        &[
            "admin",
            "create-practice",
            "--name",
            "Other",
            "--admin-name",
            "Fiona Again",
            "--admin-email",
            "fiona@fenwick.example",
        ],
        None,
    );
    assert_clear_failure(&output, "already exists");

    let output = run(
        &[
            "admin",
            "create-practice",
            "--name",
            " ",
            "--admin-name",
            "X",
            "--admin-email",
            "x@y.example",
        ],
        None,
    );
    assert_clear_failure(&output, "Enter a name.");

    let output = run(&["admin", "list-practices"], None);
    let out = text(&output.stdout);
    assert!(out.contains("Fenwick Law"), "{out}");
    assert!(out.contains("1 staff"), "{out}");

    let output = run(
        &[
            "admin",
            "reset-password",
            "--email",
            "fiona@fenwick.example",
            "--password-stdin",
        ],
        Some("a brand new passphrase\n"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains("a brand new passphrase"));

    let output = run(
        &[
            "admin",
            "reset-password",
            "--email",
            "fiona@fenwick.example",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert_clear_failure(&output, "at least 10 characters");

    let output = run(
        &[
            "admin",
            "reset-password",
            "--email",
            "nobody@fenwick.example",
        ],
        None,
    );
    assert_clear_failure(
        &output,
        "no staff user has the e-mail address nobody@fenwick.example",
    );
}

#[test]
fn demo_creates_a_practice_to_look_around_in() {
    let dir = tempfile::tempdir().unwrap();
    let output = portico(dir.path()).arg("demo").output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(
        out.contains("Demo practice: Harbour & Vale Accounting"),
        "{out}"
    );
    assert!(out.contains("hannah@northwindbakery.example"), "{out}");
}
