//! Two real Syncthing instances (Debian's `syncthing`), each serving one peer's copy of a
//! shared folder, started by a test inside a network namespace of their own (`unshare -n`,
//! loopback only): discovery, relays, NAT, usage and crash reporting and upgrades are off in
//! the generated config, and nothing could leave the namespace anyway. Stopped when the pair is
//! dropped. The REST API (pausing a device) is reached from inside the namespace (`nsenter`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pair {
    /// Peer A's copy of the shared folder, and B's.
    pub a: PathBuf,
    pub b: PathBuf,
    ids: [String; 2],
    gui: [(u16, String); 2],
    child: Child,
    _dir: tempfile::TempDir,
}

fn generate(home: &Path) -> String {
    let out = Command::new("syncthing")
        .args(["generate", "--no-default-folder", "--skip-port-probing"])
        .arg(format!("--home={}", home.display()))
        .output()
        .expect("syncthing generate (apt-get install syncthing; .ci/run installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| l.split("Device ID: ").nth(1))
        .map(|id| id.trim().to_string())
        .unwrap_or_else(|| panic!("no device id from syncthing generate: {text}"))
}

use super::server::free_port as port;

impl Pair {
    pub fn start() -> Pair {
        let dir = tempfile::tempdir().expect("tempdir");
        let homes = [dir.path().join("st-a"), dir.path().join("st-b")];
        let folders = [dir.path().join("folder-a"), dir.path().join("folder-b")];
        let ids = [generate(&homes[0]), generate(&homes[1])];
        // Ports inside the namespace: any free number will do there.
        let listen = [port(), port()];
        let gui = [
            (port(), "context-test-a".to_string()),
            (port(), "context-test-b".to_string()),
        ];
        for i in 0..2 {
            std::fs::create_dir_all(&folders[i]).unwrap();
            let devices: String = (0..2)
                .map(|j| {
                    format!(
                        "<device id=\"{}\" name=\"peer-{j}\" compression=\"metadata\">\
                         <address>tcp://127.0.0.1:{}</address></device>\n",
                        ids[j], listen[j]
                    )
                })
                .collect();
            let config = format!(
                r#"<configuration version="36">
<folder id="context" label="context" path="{folder}" type="sendreceive" rescanIntervalS="2" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
<device id="{a}"></device><device id="{b}"></device>
<order>random</order>
</folder>
{devices}<gui enabled="true" tls="false"><address>127.0.0.1:{gui_port}</address><apikey>{key}</apikey></gui>
<options>
<listenAddress>tcp://127.0.0.1:{listen}</listenAddress>
<globalAnnounceEnabled>false</globalAnnounceEnabled>
<localAnnounceEnabled>false</localAnnounceEnabled>
<relaysEnabled>false</relaysEnabled>
<natEnabled>false</natEnabled>
<urAccepted>-1</urAccepted>
<urSeen>3</urSeen>
<crashReportingEnabled>false</crashReportingEnabled>
<autoUpgradeIntervalH>0</autoUpgradeIntervalH>
<startBrowser>false</startBrowser>
<stunKeepaliveStartS>0</stunKeepaliveStartS>
<reconnectionIntervalS>1</reconnectionIntervalS>
</options>
</configuration>
"#,
                folder = folders[i].display(),
                a = ids[0],
                b = ids[1],
                gui_port = gui[i].0,
                key = gui[i].1,
                listen = listen[i],
            );
            std::fs::write(homes[i].join("config.xml"), config).unwrap();
        }
        let serve = |h: &Path| {
            format!(
                "STNOUPGRADE=1 syncthing serve --home={} --no-browser --no-restart \
                 --logfile=- >{}/log 2>&1",
                h.display(),
                h.display()
            )
        };
        // Stops both when the test closes the shell's stdin.
        let script = format!(
            "ip link set lo up && {{ {} & a=$!; {} & b=$!; read _ignored; kill $a $b; wait; }}",
            serve(&homes[0]),
            serve(&homes[1])
        );
        let child = Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare -n");
        let pair = Pair {
            a: folders[0].clone(),
            b: folders[1].clone(),
            ids,
            gui,
            child,
            _dir: dir,
        };
        // Ready when a file written on one side shows on the other.
        std::fs::write(pair.a.join(".ready-for-the-test"), b"ready").unwrap();
        pair.wait_for(
            Duration::from_secs(60),
            "the two Syncthing instances to connect",
            || pair.b.join(".ready-for-the-test").exists(),
        );
        pair
    }

    /// Waits until `done` holds, or panics naming `what` with both instances' logs.
    pub fn wait_for(&self, limit: Duration, what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > limit {
                let log = |i: usize| {
                    std::fs::read_to_string(
                        self._dir
                            .path()
                            .join(if i == 0 { "st-a" } else { "st-b" })
                            .join("log"),
                    )
                    .unwrap_or_default()
                };
                panic!(
                    "gave up waiting for {what}\n--- a ---\n{}\n--- b ---\n{}",
                    log(0),
                    log(1)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Pauses (or resumes) peer `j`'s device in instance `i`'s view, through its REST API.
    pub fn set_paused(&self, i: usize, j: usize, paused: bool) {
        let action = if paused { "pause" } else { "resume" };
        let url = format!(
            "http://127.0.0.1:{}/rest/system/{action}?device={}",
            self.gui[i].0, self.ids[j]
        );
        let ok = Command::new("nsenter")
            .args([
                "-t",
                &self.child.id().to_string(),
                "-n",
                "curl",
                "-sf",
                "-X",
                "POST",
            ])
            .args(["-H", &format!("X-API-Key: {}", self.gui[i].1), &url])
            .status()
            .expect("nsenter curl")
            .success();
        assert!(ok, "could not {action} a device through {url}");
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}
