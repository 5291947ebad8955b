//! `ssh://` remotes through the real binary against a real `sshd` on loopback: every sync
//! command, prune and bootstrap, a kill mid-push, and the failures a cron job meets (a host
//! that is down, a key refused, a host key unknown, a missing folder): exit 1 naming the host
//! and what ssh said, quickly, and never a prompt.

use std::time::{Duration, Instant};

use crate::util::server::free_port;
use crate::util::ssh::{SshFolder, sshd};
use crate::util::{Home, Run};

fn home() -> Home {
    Home::new().with_env("CONTEXT_SSH", &sshd().command())
}

fn sync(h: &Home, sub: &str, folder: &SshFolder, args: &[&str]) -> Run {
    h.sync_at(sub, &folder.url, args)
}

#[test]
fn every_sync_command_works_over_ssh() {
    let (a, b, folder) = (home(), home(), SshFolder::new());
    a.put("plan/q1", "ship it");
    let pushed = sync(&a, "push", &folder, &["--json"]).code(0).json();
    assert_eq!(pushed["entries"], 1);
    assert_eq!(pushed["remote"], folder.url);
    sync(&b, "pull", &folder, &[]).code(0);
    assert_eq!(b.get("plan/q1"), "ship it");
    a.put("plan/q1", "from a");
    b.put("plan/q1", "from b");
    sync(&b, "push", &folder, &[]).code(0);
    sync(&a, "pull", &folder, &[]).code(3);
    sync(&a, "pull", &folder, &["--force"]).code(0);
    a.ok(&["sync", "remote", &folder.url]);
    a.ok(&["sync"]);
    let status = a.run(&["sync", "status", "--json"]).code(0).json();
    assert_eq!(status["remote"], folder.url);
    assert_eq!(status["ahead"], 0);
    a.run(&["sync", "verify"]).code(0);
    // The files are where a folder remote keeps them, on the server's disk.
    let peers: Vec<_> = std::fs::read_dir(&folder.path).unwrap().flatten().collect();
    assert_eq!(peers.len(), 2, "a folder per peer");
}

#[test]
fn prune_and_a_new_machine_bootstrapping_over_ssh() {
    let (a, b, folder) = (home(), home(), SshFolder::new());
    for round in 0..4 {
        a.put(&format!("k{round}"), &format!("v{round}"));
        sync(&a, "push", &folder, &[]).code(0);
        b.run(&["sync", "--remote", &folder.url]).code(0);
    }
    a.run(&["sync", "--remote", &folder.url]).code(0);
    let pruned = sync(&a, "prune", &folder, &["--json"]).code(0).json();
    assert!(
        !pruned["removed"].as_array().unwrap().is_empty(),
        "{pruned}"
    );
    sync(&a, "verify", &folder, &[]).code(0);
    let c = home();
    sync(&c, "pull", &folder, &[]).code(0);
    assert_eq!(c.version_ids(), a.version_ids());
}

/// `kill -9` at random instants of pushes over SSH: nothing partial under a final name; the
/// next push finishes the job; prune sweeps the temporary files killed writes left.
#[test]
fn a_push_killed_mid_way_over_ssh_is_finished_by_the_next() {
    let (a, folder) = (home(), SshFolder::new());
    let mut seed: u64 = 0x5eed_5500;
    for round in 0..8 {
        a.bulk_put(&format!("r{round}"), 30, 20_000);
        let mut child = a
            .command(&["sync", "push", "--remote", &folder.url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 150));
        let _ = child.kill();
        child.wait().unwrap();
        a.assert_intact();
        sync(&a, "push", &folder, &[]).code(0);
        sync(&a, "verify", &folder, &[]).code(0);
    }
    let b = home();
    sync(&b, "pull", &folder, &[]).code(0);
    assert_eq!(b.version_ids(), a.version_ids());
    // Temporary files a kill left, aged past the hour, are swept by prune.
    let peer_dir = std::fs::read_dir(&folder.path)
        .unwrap()
        .flatten()
        .find(|d| d.path().is_dir())
        .unwrap()
        .path();
    let stale = peer_dir.join(".00000001-00000000000000ff.cset.tmp-4242");
    std::fs::write(&stale, b"half").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let pruned = sync(&a, "prune", &folder, &["--json"]).code(0).json();
    assert!(
        pruned["temporary"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().ends_with("tmp-4242")),
        "{pruned}"
    );
    assert!(!stale.exists());
}

/// Every way the connection can fail exits 1, names the host and what ssh said, applies
/// nothing, and does so quickly, with stdin closed and on a terminal alike (no prompt).
#[test]
fn a_host_that_is_down_a_refused_key_or_an_unknown_host_key_exit_1_with_sshs_reason() {
    let server = sshd();
    let a = home();
    a.put("k", "v");
    let folder = SshFolder::new();
    let check = |run: Run, started: Instant, wants: &[&str]| {
        assert_eq!(run.code, 1, "{run:?}");
        assert!(started.elapsed() < Duration::from_secs(30));
        for w in wants {
            assert!(run.stderr.contains(w), "{w:?} not in: {}", run.stderr);
        }
        assert_eq!(a.rows(), 1);
    };
    // Down: nothing listens on the port.
    let down = format!("ssh://127.0.0.1:{}/tmp/x", free_port());
    let started = Instant::now();
    check(
        a.run(&["sync", "pull", "--remote", &down]),
        started,
        &["127.0.0.1", "Connection refused"],
    );
    // A key the server does not know.
    let stranger = tempfile::tempdir().unwrap();
    let key = stranger.path().join("k");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    let config = std::fs::read_to_string(server.dir.join("ssh_config")).unwrap();
    let other_config = stranger.path().join("ssh_config");
    std::fs::write(
        &other_config,
        config.replace(
            &format!("IdentityFile {}/user_key", server.dir.display()),
            &format!("IdentityFile {}", key.display()),
        ),
    )
    .unwrap();
    let refused = format!("ssh -F {}", other_config.display());
    let started = Instant::now();
    check(
        a.run_with(
            &["sync", "pull", "--remote", &folder.url],
            b"",
            &[("CONTEXT_SSH", refused.as_str())],
        ),
        started,
        &["127.0.0.1", "Permission denied"],
    );
    // A host key this client has never seen.
    let unknown = std::fs::read_to_string(&other_config)
        .unwrap()
        .replace(
            &format!("IdentityFile {}", key.display()),
            &format!("IdentityFile {}/user_key", server.dir.display()),
        )
        .replace(
            &format!("{}/known_hosts", server.dir.display()),
            &stranger
                .path()
                .join("empty_known_hosts")
                .display()
                .to_string(),
        );
    std::fs::write(&other_config, unknown).unwrap();
    let started = Instant::now();
    check(
        a.run_with(
            &["sync", "pull", "--remote", &folder.url],
            b"",
            &[("CONTEXT_SSH", refused.as_str())],
        ),
        started,
        &["127.0.0.1", "Host key verification failed"],
    );
    // A folder that is not there.
    let missing = format!("{}/not-there", folder.url);
    let started = Instant::now();
    check(
        a.run(&["sync", "pull", "--remote", &missing]),
        started,
        &["does not exist"],
    );
    // On a terminal too (`script` gives it one): ssh is in batch mode, so nothing waits for
    // input.
    let script = std::path::Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "util-linux's script is needed for the terminal case"
    );
    {
        let line = format!("{} sync pull --remote {}", crate::util::BIN, folder.url);
        let started = Instant::now();
        let run = std::process::Command::new(script)
            .args(["-qec", &line, "/dev/null"])
            .env("CONTEXT_HOME", a.path())
            .env("CONTEXT_SSH", &refused)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(run.status.code(), Some(1), "{run:?}");
        let said = String::from_utf8_lossy(&run.stdout);
        assert!(said.contains("Host key verification failed"), "{said}");
    }
}

/// Over SSH as over a folder: a peer's folder that is a link out of the remote is never
/// written or deleted through, and a FIFO named like a manifest or the key record never hangs
/// a sync (the SFTP server would block opening it).
#[test]
fn links_and_fifos_in_a_remote_over_ssh_are_never_followed_or_waited_on() {
    use crate::util::{mkfifo, tree_of};
    let (a, b, folder) = (home(), home(), SshFolder::new());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("manifest.json"), b"precious").unwrap();
    let before = tree_of(outside.path());
    a.put("k", "v");
    sync(&a, "push", &folder, &[]).code(0);
    b.put("mine", "b");
    sync(&b, "push", &folder, &[]).code(0);
    let pa = a
        .run(&["sync", "status", "--remote", &folder.url, "--json"])
        .code(0)
        .json()["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pb = b
        .run(&["sync", "status", "--remote", &folder.url, "--json"])
        .code(0)
        .json()["peer_id"]
        .as_str()
        .unwrap()
        .to_string();

    // A's manifest a FIFO: B's commands end, and verify names it.
    let manifest = folder.path.join(&pa).join("manifest.json");
    std::fs::remove_file(&manifest).unwrap();
    mkfifo(&manifest);
    for sub in ["pull", "push", "status"] {
        let run = b.run_within(90, &["sync", sub, "--remote", &folder.url]);
        assert!(run.code == 0 || run.code == 5, "{sub}: {run:?}");
    }
    let verify = b
        .run_within(90, &["sync", "verify", "--remote", &folder.url])
        .code(5);
    assert!(verify.stdout.contains("FIFO"), "{}", verify.stdout);

    // B's own folder a link out: its push refuses, nothing written there.
    let dir = folder.path.join(&pb);
    std::fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(outside.path(), &dir).unwrap();
    b.put("more", "m");
    let push = b
        .run_within(90, &["sync", "push", "--remote", &folder.url])
        .code(1);
    assert!(push.stderr.contains("link"), "{}", push.stderr);
    b.run_within(90, &["sync", "--remote", &folder.url]);
    b.run_within(90, &["sync", "prune", "--remote", &folder.url]);
    assert_eq!(
        tree_of(outside.path()),
        before,
        "something outside was touched"
    );

    // The key record a FIFO: refused, not waited on.
    mkfifo(&folder.path.join("encryption.json"));
    let run = a
        .run_within(90, &["sync", "pull", "--remote", &folder.url])
        .code(1);
    assert!(run.stderr.contains("encryption.json"), "{}", run.stderr);
}

/// An encrypted remote reached by another spelling of its URL (`ssh://host` and
/// `ssh://user@host`) is the same encrypted remote: opened with the key while its record is
/// there, and never written in plaintext once the record is gone.
#[test]
fn another_spelling_of_an_encrypted_remote_never_gets_plaintext() {
    let (a, folder) = (home(), SshFolder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", &folder.url])
        .code(0);
    a.put("plan", "the secret plan");
    sync(&a, "push", &folder, &[]).code(0);
    let other = folder
        .url
        .replacen("ssh://", &format!("ssh://{}@", crate::util::ssh::user()), 1);
    assert_ne!(other, folder.url);
    a.put("plan2", "another secret");
    a.run(&["sync", "push", "--remote", &other]).code(0);
    std::fs::remove_file(folder.path.join("encryption.json")).unwrap();
    a.put("plan3", "a third secret");
    for url in [&folder.url, &other] {
        let run = a.run(&["sync", "push", "--remote", url]).code(1);
        assert!(run.stderr.contains("encryption.json"), "{}", run.stderr);
        a.run(&["sync", "--remote", url]);
    }
    for (path, bytes) in crate::util::tree_of(&folder.path) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("secret"),
            "{} holds plaintext",
            path.display()
        );
    }
}
