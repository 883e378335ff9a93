//! The `agent-audit` binary, run for real against the committed fixture
//! and against damaged files.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FIXTURE: &str = "tests/fixtures/reference_python.jsonl";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agent-audit"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    run_piped(args, input, false)
}

/// Runs the binary with `input` on its stdin, fed from another thread
/// while its output is read (the child may stop reading early, so a
/// failed write is fine); with `close_stdout`, its stdout is a pipe whose
/// reader is gone before it starts.
fn run_piped(args: &[&str], input: &[u8], close_stdout: bool) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if close_stdout {
        drop(child.stdout.take());
    }
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One clear line on stderr, exit 1, no panic or backtrace.
fn assert_clean_failure(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with("agent-audit: ") && err.contains(needle),
        "stderr: {err}"
    );
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "stderr: {err}"
    );
}

fn damaged() -> Vec<u8> {
    let mut log = std::fs::read(FIXTURE).unwrap()[..]
        .split(|&b| b == b'\n')
        .take(5)
        .collect::<Vec<_>>()
        .join(&b'\n');
    log.extend_from_slice(
        b"\nnot json\n{\"event_type\": \"tool_loop_block\", \"call_count\": \"x\"}\n",
    );
    let first = std::fs::read(FIXTURE).unwrap();
    let line = first.split(|&b| b == b'\n').next().unwrap();
    log.extend_from_slice(line);
    log.push(b'\n');
    log.extend_from_slice(&line[..line.len() / 2]); // torn
    log
}

#[test]
fn help_is_complete_for_every_subcommand() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["stress", "convert", "verify", "stats", "tail"] {
        assert!(help.contains(sub), "{help}");
        let out = run(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(text(&out.stdout).contains("Usage: agent-audit"), "{sub}");
    }
    assert!(text(&run(&["stress", "--help"]).stdout).contains("--threads"));
}

#[test]
fn convert_reproduces_the_reference_byte_for_byte() {
    let out = run(&["convert", FIXTURE, "--format", "python"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, std::fs::read(FIXTURE).unwrap());
}

#[test]
fn convert_round_trips_through_compact_on_stdin() {
    let compact = run(&["convert", FIXTURE]);
    assert!(compact.status.success());
    let back = run_stdin(&["convert", "-", "--format", "python"], &compact.stdout);
    assert!(back.status.success());
    // Compact writes NaN/Infinity as null, so compare only the lines without.
    let want = std::fs::read_to_string(FIXTURE).unwrap();
    let got = text(&back.stdout);
    let mut compared = 0;
    for (w, g) in want.lines().zip(got.lines()) {
        if !w.contains("NaN") && !w.contains("Infinity") {
            assert_eq!(w, g);
            compared += 1;
        }
    }
    assert!(compared > 200);
}

/// A report that cannot be written (stderr on a full disk) costs neither
/// the good lines' output nor the exit status: no panic.
#[test]
fn an_unwritable_stderr_loses_no_output() {
    for cmd in ["convert", "stats", "verify"] {
        let out = bin()
            .args([cmd, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create("/dev/full").unwrap())
            .spawn()
            .and_then(|mut child| {
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(b"bad\n{\"event_type\": \"base\"}\n")?;
                drop(stdin);
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}: {:?}", out.status);
        if cmd == "convert" {
            assert_eq!(text(&out.stdout), "{\"event_type\":\"base\"}\n");
        }
    }
}

/// A read that fails midway ends `convert` with a clear error, and what it
/// had converted before the failure is written, not lost with the buffer.
/// The failing input is a Unix socket whose peer closes with data of its
/// own unread: the kernel delivers what was queued, then `ECONNRESET`.
#[test]
fn convert_keeps_what_it_read_before_a_read_error() {
    use std::os::unix::net::UnixStream;
    let (ours, theirs) = UnixStream::pair().unwrap();
    let good = "{\"event_type\": \"base\", \"agent_id\": \"a\"}\n";
    (&ours).write_all(good.repeat(3).as_bytes()).unwrap();
    (&theirs).write_all(b"unread").unwrap();
    drop(ours);
    let out = bin()
        .args(["convert", "-"])
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_clean_failure(&out, "reading -");
    assert_eq!(
        text(&out.stdout),
        "{\"event_type\":\"base\",\"agent_id\":\"a\"}\n".repeat(3)
    );
}

/// `-o` naming the input would empty it before reading: refused, and the
/// log is left whole.
#[test]
fn convert_refuses_to_overwrite_its_input() {
    let dir = common::scratch_dir("cli-convert-same");
    let log = dir.join("log.jsonl");
    std::fs::copy(FIXTURE, &log).unwrap();
    let path = log.to_str().unwrap();
    let out = run(&["convert", path, "-o", path]);
    assert_clean_failure(&out, "is the input");
    let out = bin()
        .args(["convert", "-", "-o", path])
        .stdin(std::fs::File::open(&log).unwrap())
        .output()
        .unwrap();
    assert_clean_failure(&out, "is the input");
    assert_eq!(
        std::fs::read(&log).unwrap(),
        std::fs::read(FIXTURE).unwrap()
    );
}

#[test]
fn convert_reports_bad_lines_and_keeps_the_good_ones() {
    let dir = common::scratch_dir("cli-convert");
    let out_path = dir.join("out.jsonl");
    let out = run_stdin(
        &["convert", "-", "-o", out_path.to_str().unwrap()],
        &damaged(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "line 6: not a JSON object at byte 0",
            "line 7: field `call_count`: expected integer, found string",
            "line 9: torn last line (no newline at the end of the input)",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap().lines().count(),
        6
    );
}

#[test]
fn verify_passes_the_fixture_and_lists_damage() {
    let out = run(&["verify", FIXTURE]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("328 valid"),
        "{}",
        text(&out.stdout)
    );

    let dir = common::scratch_dir("cli-verify");
    let path = dir.join("damaged.jsonl");
    let mut log = damaged();
    log.extend_from_slice(b"\n{\"event_type\": \"turn_start\"}\n");
    std::fs::write(&path, &log).unwrap();
    let out = run(&["verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(report.contains("line 6: not a JSON object"), "{report}");
    assert!(report.contains("line 7: field `call_count`"), "{report}");
    // The formerly torn line 9 now ends with a newline but is cut: invalid.
    assert!(report.contains("line 9: "), "{report}");
    assert!(
        report.contains("line 10: missing fields timestamp, agent_id, turn_id, session_id, severity, metadata, prompt_preview"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .last()
            .unwrap()
            .ends_with("6 valid (0 of unknown type), 4 invalid, 0 torn"),
        "{report}"
    );
}

/// Counts too large for 64 bits stop at the largest, not wrap around.
/// The max duration is the value itself, not its histogram bucket's top;
/// no percentile exceeds it; names from the log reach the terminal without
/// control characters.
#[test]
fn stats_max_is_exact_and_names_are_printable() {
    let log = concat!(
        "{\"event_type\":\"tool_call_complete\",\"tool_name\":\"t\\u001b[2J\",\"duration_ms\":2005.0,",
        "\"agent_id\":\"a\\u001b]0;x\\u0007\"}\n",
        "{\"event_type\":\"tool_call_complete\",\"tool_name\":\"u\",\"duration_ms\":12345.678}\n",
    );
    let out = run_stdin(&["stats", "--json", "-"], log.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let u = &json["tools"]["u"]["duration_ms"];
    assert_eq!(u["max"], 12345.678);
    assert_eq!(u["p99"], 12345.678);
    assert_eq!(json["tools"]["t\u{1b}[2J"]["duration_ms"]["max"], 2005.0);
    let out = run_stdin(&["stats", "-"], log.as_bytes());
    let shown = text(&out.stdout);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown}"
    );
    assert!(
        shown.contains("t [2J") && shown.contains("a ]0;x "),
        "{shown}"
    );
}

/// Sums beyond 64 bits are exact; durations of any size keep their
/// percentiles (within the histogram's 0.1%); events without an agent id
/// are counted apart from any agent's, whatever its name.
#[test]
fn stats_figures_hold_at_the_extremes() {
    let calls = "{\"event_type\":\"turn_end\",\"function_calls_count\":9223372036854775807}\n";
    let mut log = calls.repeat(3);
    for ms in ["2e9", "3e9", "4e9"] {
        log += &format!(
            "{{\"event_type\":\"tool_call_complete\",\"tool_name\":\"t\",\"agent_id\":\"-\",\"duration_ms\":{ms}}}\n"
        );
    }
    let out = run_stdin(&["stats", "--json", "-"], log.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("\"function_calls\":27670116110564327421,"),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["turns"]["function_calls_max"], i64::MAX);
    let p50 = json["tools"]["t"]["duration_ms"]["p50"].as_f64().unwrap();
    assert!((p50 / 3e9 - 1.0).abs() < 1e-3, "{p50}");
    assert_eq!(json["by_agent"], serde_json::json!({"-": 3}));
    assert_eq!(json["without_agent"], 3);
}

/// `--max-line` sets the longest line the reading commands accept, below
/// the default (reported and skipped) or above it (a longer valid line is
/// read whole); at least 1.
#[test]
fn max_line_bounds_the_lines_read_either_way() {
    use agent_audit::event::{Base, TurnStart};
    use agent_audit::{json, Event, Format};
    let base = json::to_line(&Event::new(Base {}), Format::Compact);
    let prompt = "x".repeat(agent_audit::reader::DEFAULT_MAX_LINE);
    let long = json::to_line(
        &Event::new(TurnStart {
            prompt_preview: prompt.into(),
        }),
        Format::Compact,
    );
    let log = format!("{base}{long}{base}");
    // verify reports on stdout, the others on stderr.
    let said = |out: &Output| text(&out.stderr) + &text(&out.stdout);
    for cmd in ["convert", "verify", "stats"] {
        let out = run_stdin(&[cmd, "-"], log.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            said(&out).contains("line 2: longer than 16777216 bytes"),
            "{cmd}"
        );
        let limit = (long.len() + 1).to_string();
        let out = run_stdin(&[cmd, "--max-line", &limit, "-"], log.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
        let out = run_stdin(&[cmd, "--max-line", "20", "-"], base.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(said(&out).contains("line 1: longer than 20 bytes"), "{cmd}");
    }
    let out = run_stdin(&["convert", "--max-line", "99999999", "-"], log.as_bytes());
    assert!(out.stdout == log.as_bytes(), "the long line is kept whole");
    let out = run_stdin(&["tail", "--max-line", "0", "-"], base.as_bytes());
    assert_eq!(out.status.code(), Some(2), "a limit of 0 is a usage error");
}

#[test]
fn stats_counts_what_the_fixture_holds() {
    let out = run(&["stats", FIXTURE, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 328);
    assert_eq!(v["invalid_lines"], 0);
    let by_type = v["by_type"].as_object().unwrap();
    assert_eq!(by_type.len(), 16);
    assert_eq!(
        by_type.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        328
    );
    // Cross-check a few figures against the file itself.
    let text_log = std::fs::read_to_string(FIXTURE).unwrap();
    let failures = text_log
        .matches("\"event_type\": \"tool_call_failure\"")
        .count() as u64;
    assert_eq!(v["by_type"]["tool_call_failure"], failures);
    let warnings = text_log
        .matches("\"event_type\": \"tool_loop_warning\"")
        .count() as u64;
    assert_eq!(v["loops"]["warnings"], warnings);

    let human = run(&["stats", FIXTURE]);
    assert!(human.status.success());
    let t = text(&human.stdout);
    assert!(
        t.contains("by type") && t.contains("tools") && t.contains("p95 ms"),
        "{t}"
    );
}

#[test]
fn stats_of_a_stress_run_has_failure_rates_and_durations() {
    let dir = common::scratch_dir("cli-stats");
    let log = dir.join("s.jsonl");
    let out = run(&[
        "stress",
        "--out",
        log.to_str().unwrap(),
        "--events",
        "20000",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["stats", log.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 20000);
    let tools = v["tools"].as_object().unwrap();
    assert!(!tools.is_empty());
    for (name, t) in tools {
        let rate = t["failure_rate"].as_f64().unwrap();
        assert!((0.0..0.5).contains(&rate), "{name}: {rate}");
        let (p50, p99) = (
            t["duration_ms"]["p50"].as_f64().unwrap(),
            t["duration_ms"]["p99"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p50 <= p99, "{name}: {p50} {p99}");
    }
    assert!(v["turns"]["started"].as_u64().unwrap() > 1000);
}

#[test]
fn stress_writes_what_it_reports() {
    let dir = common::scratch_dir("cli-stress");
    let log = dir.join("s.jsonl");
    let out = run(&[
        "stress",
        "--out",
        log.to_str().unwrap(),
        "--events",
        "30000",
        "--threads",
        "3",
        "--format",
        "python",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for k in [
        "events",
        "seconds",
        "events_per_sec",
        "bytes",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "max_ns",
    ] {
        assert!(keys.contains(&k), "missing {k} in {keys:?}");
    }
    assert_eq!(v["events"], 30000);
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        std::fs::metadata(&log).unwrap().len()
    );
    assert!(v["p50_ns"].as_u64().unwrap() <= v["p99_ns"].as_u64().unwrap());
    let verify = run(&["verify", log.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
    // python format: the reference's separators
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .starts_with("{\"event_type\": \"turn_start\", \"timestamp\": \""));
}

#[test]
fn stress_to_dev_full_is_a_clear_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let out = run(&["stress", "--out", "/dev/full", "--events", "50000"]);
    assert_clean_failure(&out, "writing /dev/full: No space left on device");
}

/// Stdout's reader going away (`| head`) ends a command quietly: exit 1
/// if it had already reported a bad line, 0 if not, and nothing on stderr.
/// Only stdout's `EPIPE` is quiet: the same error from the log `stress`
/// writes is a failure, and so is any message that merely mentions it.
#[test]
fn a_closed_stdout_ends_quietly_with_the_status_seen_so_far() {
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let good = fixture.lines().next().unwrap().to_owned() + "\n";
    let good = good.repeat(20_000);
    // A bad line, then enough output to find stdout closed.
    let bad = format!("not json\n{good}");
    for (cmd, input, code) in [
        ("convert", &good, 0),
        ("convert", &bad, 1),
        ("verify", &good, 0),
        ("verify", &bad, 1),
        ("stats", &good, 0),
    ] {
        let out = run_piped(&[cmd, "-"], input.as_bytes(), true);
        assert_eq!(out.status.code(), Some(code), "{cmd}");
        if code == 0 {
            assert_eq!(text(&out.stderr), "", "{cmd}");
        }
    }
    // Named like the message, the missing file is still an error.
    assert_clean_failure(&run(&["convert", "Broken pipe"]), "cannot open");
    // A FIFO as `stress --out` whose reader leaves after a little.
    let dir = common::scratch_dir("cli-stress-fifo");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut f = std::fs::File::open(fifo).unwrap();
            let mut buf = [0u8; 1000];
            f.read_exact(&mut buf).unwrap();
        })
    };
    let out = run(&[
        "stress",
        "--out",
        fifo.to_str().unwrap(),
        "--events",
        "100000",
    ]);
    reader.join().unwrap();
    assert_clean_failure(&out, "Broken pipe");
}

/// A thread count beyond what `stress` allows is a usage error naming the
/// range, not an attempt to reserve room for a billion threads.
#[test]
fn stress_refuses_thread_counts_out_of_range() {
    for n in ["0", "5000", "1000000000"] {
        let out = run(&["stress", "--out", "/dev/null", "--threads", n]);
        assert_eq!(out.status.code(), Some(2), "{n}");
        assert!(
            text(&out.stderr).contains("1..=4096"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn missing_files_directories_and_permissions_are_clear_errors() {
    let dir = common::scratch_dir("cli-errors");
    for sub in ["convert", "verify", "stats", "tail"] {
        assert_clean_failure(
            &run(&[sub, "/nonexistent/audit.jsonl"]),
            "No such file or directory",
        );
        assert_clean_failure(&run(&[sub, dir.to_str().unwrap()]), "is a directory");
    }
    let out = run(&[
        "stress",
        "--out",
        "/nonexistent/dir/x.jsonl",
        "--events",
        "10",
    ]);
    assert_clean_failure(&out, "cannot open /nonexistent/dir/x.jsonl");
    let out = run(&["convert", FIXTURE, "-o", "/nonexistent/dir/out.jsonl"]);
    assert_clean_failure(&out, "cannot create /nonexistent/dir/out.jsonl");
    // Unreadable file (meaningless as root, where every file is readable).
    let locked = dir.join("locked.jsonl");
    std::fs::write(&locked, "{}\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_err() {
        assert_clean_failure(
            &run(&["verify", locked.to_str().unwrap()]),
            "Permission denied",
        );
    }
}

#[test]
fn tail_shows_the_last_matching_events_raw_when_piped() {
    let out = run(&["tail", "-n", "3", "--type", "tool_call_failure", FIXTURE]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let all: Vec<&str> = fixture
        .lines()
        .filter(|l| l.contains("\"event_type\": \"tool_call_failure\""))
        .collect();
    let got = text(&out.stdout);
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, all[all.len() - 3..]);

    let out = run(&["tail", "-n", "1000", "--severity", "error", FIXTURE]);
    let lines = text(&out.stdout);
    assert!(lines.lines().count() > 3);
    assert!(lines.lines().all(|l| l.contains("\"severity\": \"error\"")));
}

/// Followed lines are passed on as they are in the file, like the first
/// N: a python-format log stays python format.
#[test]
fn tail_follow_passes_lines_through_byte_for_byte() {
    let dir = common::scratch_dir("cli-tail-raw");
    let path = dir.join("live.jsonl");
    std::fs::write(&path, "").unwrap();
    let mut child = bin()
        .args(["tail", "-f", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let fixture = std::fs::read(FIXTURE).unwrap();
    let lines: Vec<&[u8]> = fixture.split_inclusive(|&b| b == b'\n').take(5).collect();
    // Appended once tail follows (were it slower, it would show them as
    // its first lines: raw too).
    std::thread::sleep(std::time::Duration::from_millis(500));
    append(&path, &lines.concat());
    let rx = lines_of(child.stdout.take().unwrap());
    let got: Vec<Vec<u8>> = (0..5)
        .map_while(|_| rx.recv_timeout(std::time::Duration::from_secs(20)).ok())
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got, lines);
}

/// Without `-f`, an unterminated last line that does not parse is
/// reported as torn, as the library's reader reports it.
/// Stdin (`-` or `/dev/stdin`) and other inputs without a size are read
/// to their end, where `tail` used to show nothing.
#[test]
fn tail_reads_stdin_and_pipes_to_their_end() {
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let lines: Vec<&str> = fixture.lines().collect();
    let want = lines[lines.len() - 2..].join("\n") + "\n";
    for name in ["-", "/dev/stdin"] {
        let out = run_stdin(&["tail", "-n", "2", name], fixture.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), want, "{name}");
    }
}

#[test]
fn tail_reports_a_torn_last_line_as_torn() {
    let dir = common::scratch_dir("cli-tail-torn");
    let path = dir.join("log.jsonl");
    std::fs::write(&path, damaged()).unwrap();
    let out = run(&["tail", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("line 9: torn last line")),
        "{err}"
    );
}

/// Following counts lines on from the file's end, the blank lines at its
/// end included: a bad line appended is reported by its real number.
#[test]
fn tail_follow_numbers_lines_after_trailing_blank_ones() {
    let dir = common::scratch_dir("cli-tail-blank");
    let path = dir.join("live.jsonl");
    let base = "{\"event_type\": \"base\"}\n";
    for (before, appended) in [
        (format!("{base}\n\n"), "garbage\n".to_string()),
        // A blank line still unfinished when the scan stops.
        (format!("{base}  "), format!("\n{base}garbage\n")),
    ] {
        std::fs::write(&path, &before).unwrap();
        let got = tail_follow_reports(&path, &appended, 1);
        let got = got.first().expect("tail reported nothing");
        assert!(got.starts_with("line 4: "), "{before:?}: {got}");
    }
}

/// A line longer than the limit still unfinished when tail starts is
/// reported once, when it ends, and the lines after it keep their numbers.
#[test]
fn tail_follow_reports_an_unfinished_overlong_line_once() {
    let dir = common::scratch_dir("cli-tail-long");
    let path = dir.join("live.jsonl");
    let base = "{\"event_type\": \"base\"}\n";
    let long = "x".repeat(agent_audit::reader::DEFAULT_MAX_LINE + 10);
    // Unfinished when tail starts; or finished, then an unfinished blank
    // start of the next line.
    for (before, appended) in [
        (format!("{base}{long}"), format!("xx\n{base}garbage\n")),
        (format!("{base}{long}\n   "), format!("{base}garbage\n")),
    ] {
        std::fs::write(&path, before).unwrap();
        let got = tail_follow_reports(&path, &appended, 2);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("line 2: longer than"), "{got:?}");
        assert!(got[1].starts_with("line 4: "), "{got:?}");
    }
}

/// Runs `tail -f` on `path`, appends `appended` once it has read the file,
/// and returns the first `n` lines it reports on stderr (fewer if it
/// reports nothing more for 20 s).
fn tail_follow_reports(path: &Path, appended: &str, n: usize) -> Vec<String> {
    let mut child = bin()
        .args(["tail", "-f", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(child.stderr.take().unwrap());
    // Appended once tail has read the file (it polls every 200 ms).
    std::thread::sleep(std::time::Duration::from_millis(300));
    append(path, appended.as_bytes());
    let mut got = Vec::new();
    while got.len() < n {
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(line) => got.push(text(&line)),
            Err(_) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    got
}

/// Appends `bytes` to the file at `path`.
fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// The lines of a child's output, newline included, as they come: read by
/// a thread, so the test can wait for each with a timeout.
fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = std::io::BufReader::new(out);
        loop {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut out, b'\n', &mut line) {
                Ok(n) if n > 0 && tx.send(line).is_ok() => {}
                _ => return,
            }
        }
    });
    rx
}

#[test]
fn tail_follow_prints_appended_events() {
    let dir = common::scratch_dir("cli-tail");
    let path = dir.join("live.jsonl");
    std::fs::write(&path, "").unwrap();
    let mut child = bin()
        .args(["tail", "-f", "--agent", "a2", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sink = agent_audit::JsonlSink::open(&path).unwrap();
    for i in 0..20i64 {
        let agent = if i % 2 == 0 { "a1" } else { "a2" };
        sink.emit(common::numbered(0, i).agent(agent));
    }
    sink.close().unwrap();
    // Read what tail printed: the ten events of a2, as JSONL.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while got.len() < 10 && std::time::Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        let ev = agent_audit::json::parse_line(line.trim_end().as_bytes()).unwrap();
        got.push(common::meta_i64(&ev, "i"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got, (0..20).filter(|i| i % 2 == 1).collect::<Vec<i64>>());
}
