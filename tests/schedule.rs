//! `context sync schedule --install` / `--uninstall` against the real `crontab` (Debian's
//! `cron`, installed by `.ci/run`) and into a temporary `XDG_CONFIG_HOME` for systemd units:
//! idempotent, every other line of the crontab kept byte for byte, only its own taken out, and
//! a job whose remote would lack credentials refused.
//!
//! The crontab used is the `nobody` user's (`crontab -u nobody`, through `CONTEXT_CRONTAB`),
//! so the machine's own is never touched; that needs root, and the test says so and passes
//! where it is not.

use std::process::{Command, Stdio};

use crate::util::{Folder, Home};

const CRONTAB: &str = "crontab -u nobody";

fn crontab_available() -> bool {
    let ok = Command::new("crontab")
        .args(["-u", "nobody", "-l"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .is_ok_and(|o| {
            o.status.success() || String::from_utf8_lossy(&o.stderr).contains("no crontab")
        });
    if !ok {
        eprintln!("skipped: needs `crontab` and root (apt-get install cron; .ci/run does)");
    }
    ok
}

fn crontab_text() -> String {
    let out = Command::new("crontab")
        .args(["-u", "nobody", "-l"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_crontab(text: &str) {
    let mut child = Command::new("crontab")
        .args(["-u", "nobody", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn install_and_uninstall_edit_only_their_own_line_of_the_real_crontab() {
    if !crontab_available() {
        return;
    }
    let theirs = "# the user's own jobs, kept byte for byte\nMAILTO=me@example.invalid\n\
                  0 4 * * * /usr/bin/backup --quiet  # nightly\n*/5 * * * * echo 50% > /dev/null\n";
    set_crontab(theirs);
    let (home, folder) = (
        Home::new().with_env("CONTEXT_CRONTAB", CRONTAB),
        Folder::new(),
    );
    home.run(&["sync", "remote", folder.arg()]).code(0);

    let added = home
        .run(&["sync", "schedule", "--cron", "--install"])
        .code(0);
    assert!(
        added
            .stdout
            .starts_with("added to your crontab: */15 * * * *"),
        "{}",
        added.stdout
    );
    let installed = crontab_text();
    assert!(
        installed.starts_with(theirs),
        "the other lines stay first and whole:\n{installed}"
    );
    assert!(installed.contains("sync --wait 120"), "{installed}");
    assert!(installed.contains(&format!("CONTEXT_HOME={}", home.path().display())));

    // Idempotent.
    let again = home
        .run(&["sync", "schedule", "--cron", "--install"])
        .code(0);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert_eq!(crontab_text(), installed);

    // Another period replaces the line.
    let replaced = home
        .run(&["sync", "schedule", "--cron", "--install", "--every", "30m"])
        .code(0);
    assert!(
        replaced.stdout.contains("removed from your crontab: */15"),
        "{}",
        replaced.stdout
    );
    assert!(
        replaced.stdout.contains("added to your crontab: */30"),
        "{}",
        replaced.stdout
    );
    assert_eq!(crontab_text().matches("sync --wait 120").count(), 1);

    // Uninstall leaves exactly what was there.
    let removed = home
        .run(&["sync", "schedule", "--cron", "--uninstall"])
        .code(0);
    assert!(
        removed.stdout.contains("removed from your crontab"),
        "{}",
        removed.stdout
    );
    assert_eq!(crontab_text(), theirs);
    let nothing = home
        .run(&["sync", "schedule", "--cron", "--uninstall"])
        .code(0);
    assert!(nothing.stdout.contains("unchanged"), "{}", nothing.stdout);

    // A remote whose credentials only this shell has: refused, nothing installed.
    let s3 = Home::new().with_env("CONTEXT_CRONTAB", CRONTAB);
    // (Set as a default remote directly: `sync remote` would reach the bucket first.)
    s3.put("k", "v");
    let db = rusqlite::Connection::open(s3.db()).unwrap();
    db.execute(
        "INSERT OR REPLACE INTO named_remotes (name, url, projects, added_at) VALUES ('default', 's3://a-bucket/notes', NULL, 0)",
        [],
    )
    .unwrap();
    drop(db);
    let refused = s3.run(&["sync", "schedule", "--cron", "--install"]).code(1);
    assert!(
        refused.stderr.contains("AWS_ACCESS_KEY_ID"),
        "{}",
        refused.stderr
    );
    assert_eq!(crontab_text(), theirs, "nothing installed");
    // With keys in the AWS shared credentials file (where the job finds them too): installed,
    // the file's location and the profile written into the job, never the keys.
    let creds = s3.path().join("aws-credentials");
    std::fs::write(
        &creds,
        "[work]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secretfromfile\n",
    )
    .unwrap();
    let creds = creds.display().to_string();
    let with_files = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.as_str()),
        ("AWS_PROFILE", "work"),
    ];
    s3.run_with(
        &["sync", "schedule", "--cron", "--install"],
        b"",
        &with_files,
    )
    .code(0);
    let installed = crontab_text();
    assert!(installed.contains("AWS_PROFILE=work"), "{installed}");
    assert!(installed.contains(&creds), "{installed}");
    assert!(!installed.contains("secretfromfile"), "{installed}");
    s3.run_with(
        &["sync", "schedule", "--cron", "--uninstall"],
        b"",
        &with_files,
    )
    .code(0);
    assert_eq!(crontab_text(), theirs);
    // Not-secret settings the remote needs go into the job.
    let ssh = home.run_with(
        &["sync", "schedule", "--cron"],
        b"",
        &[("CONTEXT_SSH", "ssh -F /etc/my_config")],
    );
    assert!(
        ssh.stdout.contains("CONTEXT_SSH='ssh -F /etc/my_config'"),
        "{}",
        ssh.stdout
    );
    set_crontab("");
}

#[test]
fn systemd_units_are_written_checked_and_removed() {
    let (home, folder, config) = (Home::new(), Folder::new(), tempfile::tempdir().unwrap());
    home.run(&["sync", "remote", folder.arg()]).code(0);
    let xdg = [("XDG_CONFIG_HOME", config.path().to_str().unwrap())];
    let wrote = home
        .run_with(&["sync", "schedule", "--systemd", "--install"], b"", &xdg)
        .code(0);
    assert_eq!(
        wrote.stdout.matches("wrote ").count(),
        2,
        "{}",
        wrote.stdout
    );
    let dir = config.path().join("systemd/user");
    let service = dir.join("context-sync.service");
    let timer = dir.join("context-sync.timer");
    assert!(
        std::fs::read_to_string(&service)
            .unwrap()
            .contains("sync --wait 120")
    );
    assert!(
        std::fs::read_to_string(&timer)
            .unwrap()
            .contains("OnCalendar=*:0/15")
    );
    if let Ok(out) = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&service)
        .arg(&timer)
        .output()
    {
        assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let again = home
        .run_with(&["sync", "schedule", "--systemd", "--install"], b"", &xdg)
        .code(0);
    assert_eq!(
        again.stdout.matches("unchanged").count(),
        2,
        "{}",
        again.stdout
    );
    home.run_with(&["sync", "schedule", "--systemd", "--uninstall"], b"", &xdg)
        .code(0);
    assert!(!service.exists() && !timer.exists());

    // A watch instead of a timer: a long-running service, restarted if it stops.
    home.run_with(
        &["sync", "schedule", "--systemd", "--watch", "--install"],
        b"",
        &xdg,
    )
    .code(0);
    let watch = dir.join("context-sync-watch.service");
    let text = std::fs::read_to_string(&watch).unwrap();
    assert!(
        text.contains("sync watch") && text.contains("Restart=on-failure"),
        "{text}"
    );
    if let Ok(out) = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&watch)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    home.run_with(
        &["sync", "schedule", "--systemd", "--watch", "--uninstall"],
        b"",
        &xdg,
    )
    .code(0);
    assert!(!watch.exists());
    // For cron, a watch starts at boot.
    let cron = home.run(&["sync", "schedule", "--cron", "--watch"]).code(0);
    assert!(
        cron.stdout.starts_with("@reboot ") && cron.stdout.contains("sync watch"),
        "{}",
        cron.stdout
    );
}
