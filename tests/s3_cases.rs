// The cases of tests/s3.rs, included once per S3 server (no inner doc: `include!`).
use std::time::{Duration, Instant};

use crate::util::proxy::{Fault, Proxy};
use crate::util::s3::Bucket;
use crate::util::server::free_port;
use crate::util::{Home, Run, copy_db};
use context::remote::FileName;

/// A home whose every run reaches the test server.
fn home() -> Home {
    Home::new().with_envs(server().env())
}

fn sync(h: &Home, sub: &str, bucket: &Bucket, args: &[&str]) -> Run {
    h.sync_at(sub, &bucket.url, args)
}

#[test]
fn every_sync_command_works_over_s3() {
    let (a, b, bucket) = (home(), home(), Bucket::with_prefix_on(server(), "notes"));
    a.put("plan/q1", "ship it");
    a.run_with(&["put", "w", "--project", "work"], b"w", &[])
        .code(0);
    let pushed = sync(&a, "push", &bucket, &["--json"]).code(0).json();
    assert_eq!(pushed["entries"], 2);
    assert_eq!(pushed["remote"], bucket.url);
    let pulled = sync(&b, "pull", &bucket, &["--json"]).code(0).json();
    assert_eq!(pulled["per_project"]["work"]["versions"], 1);
    assert_eq!(b.get("plan/q1"), "ship it");

    // A conflict: refused, then forced, over S3 as over a folder.
    a.put("plan/q1", "from a");
    b.put("plan/q1", "from b");
    sync(&b, "push", &bucket, &[]).code(0);
    let refused = sync(&a, "pull", &bucket, &[]).code(3);
    assert!(refused.stderr.contains("conflict"), "{}", refused.stderr);
    sync(&a, "pull", &bucket, &["--force"]).code(0);
    assert_eq!(a.get("plan/q1"), "from b");

    // The default remote, bare `context sync`, status, verify, log.
    a.ok(&["sync", "remote", &bucket.url]);
    a.put("after", "x");
    a.ok(&["sync"]);
    b.ok(&["sync", "remote", &bucket.url]);
    b.ok(&["sync"]);
    assert_eq!(b.get("after"), "x");
    let status = b.run(&["sync", "status", "--json"]).code(0).json();
    assert_eq!(status["remote"], bucket.url);
    assert_eq!(
        (status["ahead"].as_u64(), status["behind"].as_u64()),
        (Some(0), Some(0))
    );
    let verified = b.run(&["sync", "verify", "--json"]).code(0).json();
    assert_eq!(verified["problems"], 0);
    assert!(verified["changesets"].as_u64().unwrap() >= 3);
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|r| r["remote"] == bucket.url)
    );
    // Nothing outside the prefix: the bucket's top level holds the prefix alone, so the bucket
    // itself is no remote.
    let outside = bucket.whole();
    match outside.list() {
        Err(context::remote::RemoteError::NotARemote { found, .. }) => {
            assert_eq!(found, format!("{:?}", "notes/"));
        }
        other => panic!("the bucket's top level holds more than the prefix: {other:?}"),
    }
}

#[test]
fn prune_and_a_new_machine_bootstrapping_over_s3() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    for round in 0..4 {
        a.put(&format!("k{round}"), &format!("v{round}"));
        a.put("shared", &format!("edit {round}"));
        sync(&a, "push", &bucket, &[]).code(0);
        b.run(&["sync", "--remote", &bucket.url]).code(0);
    }
    a.run(&["sync", "--remote", &bucket.url]).code(0);
    let pruned = sync(&a, "prune", &bucket, &["--json"]).code(0).json();
    assert!(
        !pruned["removed"].as_array().unwrap().is_empty(),
        "{pruned}"
    );
    assert!(pruned["snapshot"].is_object(), "{pruned}");
    sync(&a, "verify", &bucket, &[]).code(0);
    let c = home();
    let boot = sync(&c, "pull", &bucket, &["--json"]).code(0).json();
    assert_eq!(boot["bootstrapped_from"].as_array().unwrap().len(), 1);
    assert_eq!(c.version_ids(), a.version_ids());
    assert_eq!(c.get("shared"), "edit 3");
    let snap = sync(&b, "snapshot", &bucket, &["--json"]).code(0).json();
    assert!(snap["seal"].as_str().unwrap().contains("snapshot-"));
}

/// Two copies of one home push at once: S3 creates each changeset only if absent, so one
/// wins and the other is refused (exit 3) with nothing lost; `--force` then keeps both.
#[test]
fn two_copies_of_one_home_racing_never_replace_each_others_changesets() {
    let (a, bucket) = (home(), Bucket::on(server()));
    a.put("shared", "before the copy");
    sync(&a, "push", &bucket, &[]).code(0);
    let copy = home().with_env("CONTEXT_HOST", "other-laptop");
    copy_db(a.path(), copy.path());
    a.put("from/original", "o");
    copy.put("from/copy", "c");
    let args = ["sync", "push", "--remote", bucket.url.as_str()];
    let (one, two) = std::thread::scope(|s| {
        let one = s.spawn(|| a.run(&args));
        let two = s.spawn(|| copy.run(&args));
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut codes = [one.code, two.code];
    codes.sort();
    assert_eq!(codes, [0, 3], "one wins, one is refused:\n{one:?}\n{two:?}");
    let loser = if one.code == 3 { &a } else { &copy };
    sync(loser, "push", &bucket, &["--force"]).code(0);
    let b = home();
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.get("from/original"), "o");
    assert_eq!(b.get("from/copy"), "c");
    sync(&b, "verify", &bucket, &[]).code(0);
}

#[test]
fn missing_credentials_a_missing_bucket_and_a_dead_endpoint_exit_1_naming_the_cause() {
    let bucket = Bucket::on(server());
    // No credentials: the variables to set are named, and nothing is sent.
    let bare = Home::new();
    bare.put("k", "v");
    let run = sync(&bare, "push", &bucket, &[]).code(1);
    assert!(run.stderr.contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr);
    assert!(run.stderr.contains(&bucket.url), "{}", run.stderr);

    // A bucket that does not exist.
    let a = home();
    a.put("k", "v");
    let missing = format!("s3://{}-missing", bucket.name);
    let run = a.run(&["sync", "push", "--remote", &missing]).code(1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    let run = a.run(&["sync", "remote", &missing]).code(1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);

    // Refused credentials.
    let wrong = a.run_with(
        &["sync", "pull", "--remote", &bucket.url],
        b"",
        &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
    );
    // moto checks no signatures: only a server that does refuses here; either way nothing
    // applies.
    if server().checks_signatures {
        assert_eq!(wrong.code, 1, "{wrong:?}");
        assert!(wrong.stderr.contains("403"), "{}", wrong.stderr);
    } else {
        assert!(wrong.code == 0 || wrong.code == 1, "{wrong:?}");
    }

    // A server that is not there: exit 1 within the retry budget, nothing applied.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let run = a
        .run_with(
            &["sync", "pull", "--remote", &bucket.url],
            b"",
            &[
                ("AWS_ENDPOINT_URL", dead.as_str()),
                ("CONTEXT_RETRY_BUDGET", "3s"),
            ],
        )
        .code(1);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(run.stderr.contains(&dead), "{}", run.stderr);
    assert!(run.stderr.contains(&bucket.url), "{}", run.stderr);
    assert_eq!(a.rows(), 1);
    // Plain HTTP needs saying so.
    let run = a
        .run_with(
            &["sync", "pull", "--remote", &bucket.url],
            b"",
            &[("AWS_ALLOW_HTTP", "false")],
        )
        .code(1);
    assert!(run.stderr.contains("AWS_ALLOW_HTTP"), "{}", run.stderr);
}

/// `kill -9` at random instants of pushes over S3: no changeset is ever half there, and the
/// next push finishes the job, every version published exactly once.
#[test]
fn a_push_killed_mid_way_over_s3_is_finished_by_the_next() {
    let (a, bucket) = (home(), Bucket::on(server()));
    let mut seed: u64 = 0x5eed_5300;
    let mut kills = 0;
    for round in 0..12 {
        a.bulk_put(&format!("r{round}"), 30, 20_000);
        let mut child = a
            .command(&["sync", "push", "--remote", &bucket.url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 120));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        a.assert_intact();
        sync(&a, "push", &bucket, &[]).code(0);
        sync(&a, "verify", &bucket, &[]).code(0);
    }
    eprintln!("s3 push: {kills} kills");
    let b = home();
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.version_ids(), a.version_ids());
    let remote = bucket.remote();
    let mut ids = Vec::new();
    for name in remote.list().unwrap().changesets {
        let (cs, _) = context::changeset::decode(&remote.read(&name).unwrap()).unwrap();
        ids.extend(cs.entries.into_iter().map(|e| e.id));
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a version was published twice");
    assert_eq!(n as i64, a.rows());
}

/// A cron tick over S3 costs a handful of requests per peer, never one per changeset: each
/// peer's folder is listed after what this home already has.
#[test]
fn a_no_op_sync_costs_a_handful_of_requests_however_many_changesets() {
    let bucket = Bucket::on(server());
    let homes = [home(), home(), home()];
    let remote = bucket.remote();
    for (n, h) in homes.iter().enumerate() {
        let rt = context::runtime::Runtime::system();
        let mut store = context::store::Store::open(&h.db(), rt).unwrap();
        for i in 0..70 {
            store
                .put("default", &format!("peer{n}/k{i}"), b"v", None)
                .unwrap();
            context::sync::push(&mut store, &remote, Default::default()).unwrap();
        }
    }
    assert_eq!(remote.list().unwrap().changesets.len(), 210);
    for h in &homes {
        h.run(&["sync", "--remote", &bucket.url]).code(0);
    }
    let proxy = Proxy::start(server().addr, Duration::ZERO);
    for h in &homes {
        let before = proxy.requests();
        let run = h
            .run_with(
                &["sync", "--remote", &bucket.url],
                b"",
                &[("AWS_ENDPOINT_URL", proxy.url().as_str())],
            )
            .code(0);
        assert_eq!(run.stdout, "", "nothing to do, nothing said");
        let made = proxy.requests() - before;
        eprintln!("no-op sync: {made} requests");
        assert!(made <= 12, "a no-op sync made {made} requests");
    }
}

/// Throttling, server errors and dropped connections are retried; a server that keeps
/// failing is reported naming the bucket, the key and the status, and nothing half-done stays.
#[test]
fn server_errors_are_retried_then_reported() {
    let (a, bucket) = (home(), Bucket::on(server()));
    let proxy = Proxy::start(server().addr, Duration::ZERO);
    let via = [("AWS_ENDPOINT_URL", proxy.url())];
    let via: Vec<(&str, &str)> = via.iter().map(|(k, v)| (*k, v.as_str())).collect();
    a.put("k", "v");
    proxy.fail_next([Fault::Status(503), Fault::Status(500), Fault::Drop]);
    a.run_with(&["sync", "push", "--remote", &bucket.url], b"", &via)
        .code(0);
    a.put("k2", "v2");
    // A server that keeps failing for longer than the retry budget.
    proxy.fail_for(Duration::from_secs(30), Fault::Status(500));
    let mut short = via.clone();
    short.push(("CONTEXT_RETRY_BUDGET", "2s"));
    let run = a
        .run_with(&["sync", "push", "--remote", &bucket.url], b"", &short)
        .code(1);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);
    assert!(run.stderr.contains(&bucket.name), "{}", run.stderr);
    // Whatever the failed run left, the next one finishes the job.
    proxy.clear();
    let b = home();
    a.run_with(&["sync", "push", "--remote", &bucket.url], b"", &via)
        .code(0);
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.get("k2"), "v2");
    sync(&b, "verify", &bucket, &[]).code(0);
}

/// `kill -9` at random instants of a pull over S3: all or nothing is applied, and the next
/// pull finishes the job.
#[test]
fn a_pull_killed_mid_way_over_s3_applies_all_or_nothing() {
    let (a, bucket) = (home(), Bucket::on(server()));
    for round in 0..6 {
        a.bulk_put(&format!("r{round}"), 300, 2_000);
        sync(&a, "push", &bucket, &[]).code(0);
    }
    let total = a.rows();
    let mut seed: u64 = 0x5eed_5301;
    for _ in 0..8 {
        let b = home();
        let mut child = b
            .command(&["sync", "pull", "--remote", &bucket.url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 300));
        let _ = child.kill();
        child.wait().unwrap();
        if b.db().exists() {
            b.assert_intact();
            let rows = b.rows_if_any();
            assert!(rows == 0 || rows == total, "a partial import: {rows} rows");
        }
        sync(&b, "pull", &bucket, &[]).code(0);
        assert_eq!(b.rows(), total);
    }
}

/// Runs `cmd` and sends it SIGINT (a Ctrl-C) once `ready` holds; its exit status and stderr.
fn interrupt_when(
    mut cmd: std::process::Command,
    ready: impl Fn() -> bool,
) -> (Option<i32>, String) {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "the command never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ctrl-C during a long pull: it stops at the next changeset, undoes everything, says so, and
/// exits 130; the next pull does the whole job.
#[test]
fn ctrl_c_during_a_pull_applies_nothing_and_exits_130() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    let remote = bucket.remote();
    {
        let rt = context::runtime::Runtime::system();
        let mut store = context::store::Store::open(&a.db(), rt).unwrap();
        for i in 0..120 {
            store.put("default", &format!("k{i}"), b"v", None).unwrap();
            context::sync::push(&mut store, &remote, Default::default()).unwrap();
        }
    }
    // Every request 40 ms late: the pull takes seconds.
    let proxy = Proxy::start(server().addr, Duration::from_millis(40));
    let mut cmd = b.command(&["sync", "pull", "--remote", &bucket.url]);
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let (code, stderr) = interrupt_when(cmd, || proxy.requests() >= 20);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted; nothing applied"), "{stderr}");
    assert_eq!(b.rows_if_any(), 0, "nothing applied");
    let log = b.run(&["sync", "log", "--json"]).code(0).json();
    assert_eq!(log[0]["outcome"], "interrupted");
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.rows(), 120);
}

/// Ctrl-C during a long push: it stops before the next changeset, keeps what it published
/// (each changeset is whole, and recorded as published), says so, and exits 130; the next push
/// goes on from there, and a reader gets every version once.
#[test]
fn ctrl_c_during_a_push_keeps_what_it_published_and_exits_130() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    {
        // 24 MB that does not compress: six changesets of 4 MB.
        let rt = context::runtime::Runtime::system();
        let mut store = context::store::Store::open(&a.db(), rt).unwrap();
        for i in 0..24 {
            let body = crate::util::random_bytes(1 << 20, i);
            store.put("default", &format!("k{i}"), &body, None).unwrap();
        }
    }
    // Every request 100 ms late: the push takes seconds.
    let proxy = Proxy::start(server().addr, Duration::from_millis(100));
    let mut cmd = a.command(&["sync", "push", "--remote", &bucket.url]);
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    let remote = bucket.remote();
    let (code, stderr) = interrupt_when(cmd, || !remote.list().unwrap().changesets.is_empty());
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stderr.contains("published, and kept: the next push goes on from there"),
        "{stderr}"
    );
    let published = remote.list().unwrap().changesets.len();
    assert!((1..6).contains(&published), "{published} changesets");
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    assert_eq!(log[0]["outcome"], "interrupted");
    // The next push publishes the rest, after what was kept.
    let done = sync(&a, "push", &bucket, &["--json"]).code(0).json();
    assert_eq!(
        published as u64 + done["changesets"].as_u64().unwrap(),
        6,
        "{done}"
    );
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.rows(), 24);
    sync(&b, "verify", &bucket, &[]).code(0);
}

/// `sync repair` over S3: a damaged object is replaced by the writer's rebuild, a lost one put
/// back, and a new reader gets everything.
#[test]
fn repair_works_over_s3() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    for i in 0..3 {
        a.put(&format!("k{i}"), &format!("v{i}"));
        sync(&a, "push", &bucket, &[]).code(0);
    }
    let remote = bucket.remote();
    let names = remote.list().unwrap().changesets;
    assert_eq!(names.len(), 3);
    let original = remote.read(&names[1]).unwrap();
    let mut damaged = original.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    remote.replace(&names[1], &damaged).unwrap();
    remote.remove(&names[2]).unwrap();
    sync(&b, "pull", &bucket, &[]).code(5);
    let report = sync(&a, "repair", &bucket, &["--json"]).code(0).json();
    assert_eq!(report["files"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(remote.read(&names[1]).unwrap(), original);
    sync(&b, "pull", &bucket, &[]).code(0);
    assert_eq!(b.get("k2"), "v2");
}

/// What a flaky store does is an error of the store (exit 1, retried by the next run), never
/// divergence (3) or bad data (5): a lost answer to a PUT, a read-back that fails, a listing
/// that lags behind, an outage of a few seconds (ridden out). Each later run converges with
/// nothing lost or published twice.
#[test]
fn a_flaky_store_is_never_taken_for_another_writer_or_for_damage() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    let proxy = Proxy::start(server().addr, Duration::ZERO);
    let url = proxy.url();
    let via = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = vec![("AWS_ENDPOINT_URL", url.as_str())];
        v.extend_from_slice(extra);
        v
    };
    let push = |h: &Home, extra: &[(&'static str, &'static str)]| {
        h.run_with(&["sync", "push", "--remote", &bucket.url], b"", &via(extra))
    };
    a.put("k1", "one");
    push(&a, &[]).code(0);

    // The PUT of the next changeset takes effect but its answer is lost; the retry meets 412;
    // the read-back is throttled past a short budget: an error of the store, not a copy.
    a.put("k2", "two");
    proxy.fail_matching_then("PUT", Fault::LoseResponse, [("GET", Fault::Status(503)); 8]);
    let run = push(&a, &[("CONTEXT_RETRY_BUDGET", "200ms")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains("copied"), "{}", run.stderr);
    proxy.clear();
    push(&a, &[]).code(0);

    // A listing that lacks the newest changeset: looked up by name, not called lost.
    let newest = bucket
        .remote()
        .list()
        .unwrap()
        .changesets
        .last()
        .copied()
        .unwrap();
    let hidden: &'static str = Box::leak(newest.file_name().into_boxed_str());
    proxy.fail_listings(Fault::Hide(hidden));
    let through_proxy = bucket.remote_via(&url).list().unwrap();
    assert!(
        !through_proxy.changesets.contains(&newest),
        "the proxy hides {newest}"
    );
    a.put("k3", "three");
    let run = push(&a, &[]);
    assert_eq!(run.code, 0, "a lagging listing is no divergence: {run:?}");
    proxy.clear();

    // A store down for five seconds: ridden out.
    a.put("k4", "four");
    proxy.fail_for(Duration::from_secs(5), Fault::Drop);
    push(&a, &[]).code(0);
    proxy.fail_for(Duration::from_secs(5), Fault::Status(503));
    b.run_with(&["sync", "pull", "--remote", &bucket.url], b"", &via(&[]))
        .code(0);

    // Whatever the faults, everything arrives once.
    proxy.clear();
    sync(&b, "pull", &bucket, &[]).code(0);
    for (k, v) in [
        ("k1", "one"),
        ("k2", "two"),
        ("k3", "three"),
        ("k4", "four"),
    ] {
        assert_eq!(b.get(k), v);
    }
    sync(&b, "verify", &bucket, &[]).code(0);
    let ids = {
        let remote = bucket.remote();
        let listing = remote.list().unwrap();
        let mut ids = Vec::new();
        for n in &listing.changesets {
            let (cs, _) = context::changeset::decode(&remote.read(n).unwrap()).unwrap();
            ids.extend(cs.entries.iter().map(|e| e.id));
        }
        ids
    };
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a version was published twice");
}

/// Random faults (lost answers, 503s, dropped connections, lagging listings) under two homes
/// taking turns: every run ends 0 or 1; once the store behaves, both hold everything, once.
#[test]
fn under_random_faults_every_run_ends_0_or_1_and_the_homes_converge() {
    let (a, b, bucket) = (home(), home(), Bucket::on(server()));
    let proxy = Proxy::start(server().addr, Duration::ZERO);
    let url = proxy.url();
    let env = [
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("CONTEXT_RETRY_BUDGET", "1s"),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..12 {
        let h = if round % 2 == 0 { &a } else { &b };
        h.put(&format!("k{round}"), &format!("v{round}"));
        let faults: Vec<Fault> = (0..(next() % 6))
            .map(|_| match next() % 4 {
                0 => Fault::Status(503),
                1 => Fault::Drop,
                2 => Fault::LoseResponse,
                _ => Fault::Status(500),
            })
            .collect();
        proxy.fail_next(faults);
        if next() % 3 == 0 {
            proxy.fail_for(Duration::from_millis(1500), Fault::Status(503));
        }
        let run = h.run_with(&["sync", "--remote", &bucket.url], b"", &env);
        assert!(run.code == 0 || run.code == 1, "round {round}: {run:?}");
        proxy.clear();
    }
    for _ in 0..2 {
        for h in [&a, &b] {
            h.run(&["sync", "--remote", &bucket.url]).code(0);
        }
    }
    for round in 0..12 {
        assert_eq!(a.get(&format!("k{round}")), format!("v{round}"));
        assert_eq!(b.get(&format!("k{round}")), format!("v{round}"));
    }
    sync(&a, "verify", &bucket, &[]).code(0);
}

/// A listing that does not parse is asked again; and a listing that keeps failing names the
/// prefix once (`s3://bucket/notes/...`, never `notes/notes/`).
#[test]
fn an_unreadable_listing_is_retried_and_a_failing_one_names_its_prefix_once() {
    let (a, b, bucket) = (home(), home(), Bucket::with_prefix_on(server(), "notes"));
    let proxy = Proxy::start(server().addr, Duration::ZERO);
    let url = proxy.url();
    a.put("k", "v");
    sync(&a, "push", &bucket, &[]).code(0);
    proxy.fail_matching("list-type=2", Fault::Garbage);
    proxy.fail_matching("list-type=2", Fault::Garbage);
    b.run_with(
        &["sync", "pull", "--remote", &bucket.url],
        b"",
        &[("AWS_ENDPOINT_URL", url.as_str())],
    )
    .code(0);
    assert_eq!(b.get("k"), "v");
    proxy.fail_listings(Fault::Garbage);
    let run = b
        .run_with(
            &["sync", "pull", "--remote", &bucket.url],
            b"",
            &[
                ("AWS_ENDPOINT_URL", url.as_str()),
                ("CONTEXT_RETRY_BUDGET", "1s"),
            ],
        )
        .code(1);
    assert!(run.stderr.contains(&bucket.url), "{}", run.stderr);
    assert!(!run.stderr.contains("notes/notes"), "{}", run.stderr);
}

/// A cron job's environment has no keys: they come from the AWS shared files, as every AWS
/// tool reads them (a profile of `~/.aws/credentials` and `~/.aws/config`), the environment
/// winning where it says something.
#[test]
fn credentials_and_region_come_from_the_aws_shared_files() {
    let bucket = Bucket::on(server());
    let server = server();
    let home = Home::new();
    let aws = home.path().join("dot-aws");
    std::fs::create_dir(&aws).unwrap();
    let endpoint = server.lookup("AWS_ENDPOINT_URL").unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n\
         [other]\naws_access_key_id = other\naws_secret_access_key = other\n",
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[default]\nregion = us-east-1\nendpoint_url = {endpoint}\n\
             [profile other]\nregion = us-east-1\nendpoint_url = {endpoint}\n"
        ),
    )
    .unwrap();
    let creds = aws.join("credentials").display().to_string();
    let config = aws.join("config").display().to_string();
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.as_str()),
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    home.put("k", "from the files");
    let url = bucket.url.as_str();
    home.run_with(&["sync", "push", "--remote", url], b"", &files)
        .code(0);
    let reader = Home::new();
    reader
        .run_with(&["sync", "pull", "--remote", url], b"", &files)
        .code(0);
    assert_eq!(reader.get("k"), "from the files");
    // A profile no file holds is named, with where it was looked for.
    let mut missing = files.to_vec();
    missing.push(("AWS_PROFILE", "nope"));
    let run = home
        .run_with(&["sync", "pull", "--remote", url], b"", &missing)
        .code(1);
    assert!(run.stderr.contains("no profile \"nope\""), "{}", run.stderr);
    assert!(run.stderr.contains(&creds), "{}", run.stderr);
    // The remote may name its profile: the same, from `?profile=` in its URL.
    let named = format!("{url}?profile=nope");
    let run = home
        .run_with(&["sync", "pull", "--remote", &named], b"", &files)
        .code(1);
    assert!(run.stderr.contains("no profile \"nope\""), "{}", run.stderr);
    let other = format!("{url}?profile=other");
    home.run_with(&["sync", "pull", "--remote", &other], b"", &files)
        .code(0);
    // One remote however it is reached: its records are the bucket's.
    let status = home
        .run_with(
            &["sync", "status", "--remote", &other, "--json"],
            b"",
            &files,
        )
        .code(0)
        .json();
    assert_eq!(status["remote"], url, "{status}");
    // Without keys anywhere, the message names the environment and the files it looked in.
    let empty = aws.join("empty");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.display().to_string();
    let run = home
        .run_with(
            &["sync", "pull", "--remote", url],
            b"",
            &[
                ("AWS_SHARED_CREDENTIALS_FILE", empty.as_str()),
                ("AWS_CONFIG_FILE", config.as_str()),
                ("AWS_ALLOW_HTTP", "true"),
            ],
        )
        .code(1);
    assert!(run.stderr.contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr);
    assert!(run.stderr.contains(&empty), "{}", run.stderr);
}
