//! Housekeeping for unattended use: `sync verify`, `sync log`, `sync schedule`.

use std::process::Command;

use crate::util::{Folder, Home};

/// A remote with two healthy peers, A with three changesets.
fn remote() -> (Folder, Vec<std::path::PathBuf>) {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..3 {
        a.put(&format!("a/{i}"), "x");
        a.sync("push", &folder, &[]).code(0);
    }
    b.put("b", "y");
    b.sync("push", &folder, &[]).code(0);
    let peer = a.sync("status", &folder, &["--json"]).code(0).json()["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let files = folder
        .changesets()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&peer))
        .collect();
    (folder, files)
}

fn verify(folder: &Folder) -> crate::util::Run {
    Home::new().sync("verify", folder, &[])
}

#[test]
fn verify_passes_a_healthy_remote() {
    let (folder, _) = remote();
    let run = verify(&folder).code(0);
    assert_eq!(run.stdout.matches(": ok;").count(), 2, "{}", run.stdout);
    let json = Home::new()
        .sync("verify", &folder, &["--json"])
        .code(0)
        .json();
    assert_eq!(json["changesets"], 4);
    assert_eq!(json["problems"], 0);
}

#[test]
fn verify_finds_each_kind_of_damage() {
    type Damage = fn(&Folder, &[std::path::PathBuf]) -> std::path::PathBuf;
    let cases: [(&str, Damage); 6] = [
        ("checksum", |_, f| {
            let mut b = std::fs::read(&f[1]).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 1;
            std::fs::write(&f[1], b).unwrap();
            f[1].clone()
        }),
        ("truncated", |_, f| {
            let b = std::fs::read(&f[0]).unwrap();
            std::fs::write(&f[0], &b[..b.len() - 3]).unwrap();
            f[0].clone()
        }),
        ("gap", |_, f| {
            std::fs::remove_file(&f[1]).unwrap();
            f[2].clone()
        }),
        ("chain", |_, f| {
            // The stream's second changeset replaced by its third: a well-formed file that
            // does not chain on (and says another sequence number).
            std::fs::copy(&f[2], &f[1]).unwrap();
            f[1].clone()
        }),
        ("duplicate", |_, f| {
            let copy = f[0].with_file_name(
                "00000001-0000000000000001.sync-conflict-20261125-101500-ABC1234.cset",
            );
            std::fs::copy(&f[0], &copy).unwrap();
            copy
        }),
        ("never writes", |folder, _| {
            let stray = folder.path().join("notes.cset");
            std::fs::write(&stray, b"?").unwrap();
            stray
        }),
    ];
    for (what, damage) in cases {
        let (folder, files) = remote();
        let bad = damage(&folder, &files);
        let run = verify(&folder).code(5);
        let name = bad.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            run.stdout.contains(&name),
            "{what}: names {name}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("DAMAGED") || what == "never writes",
            "{what}: {}",
            run.stdout
        );
        let said = format!("{}{}", run.stdout, run.stderr);
        let expected = match what {
            "checksum" => "checksum",
            "truncated" => "truncated",
            "gap" => "gap",
            "chain" => "header says",
            "duplicate" => "duplicate",
            _ => "never writes",
        };
        assert!(said.contains(expected), "{what}: {said}");
    }
}

#[test]
fn the_log_shows_the_runs_with_their_scenario_ids() {
    let (a, folder) = (Home::new(), Folder::new());
    a.put("k", "v");
    a.run_with(
        &["sync", "push", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_SCENARIO_ID", "nightly-42")],
    )
    .code(0);
    a.run_with(
        &["sync", "pull", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_SCENARIO_ID", "nightly-43")],
    )
    .code(0);
    a.run(&["sync", "push", "--remote", "/nonexistent/folder"])
        .code(1);
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    let runs = log.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["outcome"], "error", "newest first");
    assert_eq!(runs[1]["command"], "pull");
    assert_eq!(runs[1]["scenario_id"], "nightly-43");
    assert_eq!(runs[2]["command"], "push");
    assert_eq!(runs[2]["scenario_id"], "nightly-42");
    assert_eq!(runs[2]["summary"]["projects"]["default"]["versions"], 1);
    let text = a.ok(&["sync", "log"]);
    assert!(
        text.contains("nightly-42") && text.contains("1 version in default"),
        "{text}"
    );
}

#[test]
fn schedule_prints_a_valid_crontab_line() {
    let home = Home::new();
    for (every, spec) in [
        ("15m", "*/15 * * * *"),
        ("1h", "0 */1 * * *"),
        ("1d", "0 0 * * *"),
    ] {
        let line = home.ok(&["sync", "schedule", "--every", every, "--cron"]);
        let line = line.trim_end();
        assert!(!line.contains('\n'), "one line: {line}");
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        assert_eq!(fields[..5].join(" "), spec, "{line}");
        for (field, (lo, hi)) in
            fields[..5]
                .iter()
                .zip([(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)])
        {
            let n = field.trim_start_matches("*/");
            assert!(
                *field == "*" || n.parse::<u32>().is_ok_and(|v| v >= lo && v <= hi.max(60)),
                "{field}"
            );
        }
        let command = fields[5];
        assert!(
            command.starts_with(&format!("CONTEXT_HOME={} ", home.path().display())),
            "{command}"
        );
        let exe = command.split(' ').nth(1).unwrap();
        assert!(std::path::Path::new(exe).is_file(), "{exe}");
        assert!(command.ends_with("sync --wait 120"), "{command}");
    }
    let run = home.run(&["sync", "schedule", "--every", "7m"]).code(1);
    assert!(run.stderr.contains("--every"), "{}", run.stderr);
}

#[test]
fn schedule_prints_systemd_units_that_systemd_accepts() {
    let home = Home::new();
    let text = home.ok(&["sync", "schedule", "--every", "30m", "--systemd"]);
    let dir = tempfile::tempdir().unwrap();
    let mut current: Option<std::path::PathBuf> = None;
    let mut units: Vec<(std::path::PathBuf, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("# ~/.config/systemd/user/") {
            current = Some(dir.path().join(name));
            units.push((dir.path().join(name), String::new()));
        } else if current.is_some() {
            let body = &mut units.last_mut().unwrap().1;
            body.push_str(line);
            body.push('\n');
        }
    }
    assert_eq!(units.len(), 2, "{text}");
    for (path, body) in &units {
        std::fs::write(path, body).unwrap();
    }
    assert!(units[0].1.contains(&format!(
        "Environment=CONTEXT_HOME={}",
        home.path().display()
    )));
    assert!(units[1].1.contains("OnUnitActiveSec=30min"));
    let Ok(out) = Command::new("systemd-analyze")
        .arg("verify")
        .args(units.iter().map(|(p, _)| p))
        .output()
    else {
        eprintln!("systemd-analyze is not available here: the units are not verified");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze warns: {stderr}");
}
