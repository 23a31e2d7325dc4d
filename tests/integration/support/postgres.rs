//! A real PostgreSQL server for the tests, and a database of its own for
//! each test.
//!
//! With `REAGENTIC_TEST_POSTGRES_URL` set (`.ci/run` sets it), that server
//! is used: its URL must name a user allowed to `CREATE DATABASE`. Without
//! it, the first test that asks starts a throwaway cluster for this test
//! process: `initdb` into a temporary folder (as the `postgres` user when
//! running as root, which PostgreSQL refuses), `pg_ctl start` on a free
//! loopback port with its socket in that folder. A watcher process stops
//! the server and removes the folder once this process has exited, however
//! it exits. When PostgreSQL's server programs are not installed, the test
//! fails with a message naming what is missing: it never skips.
//!
//! Child processes started by a test are handed their database's URL; they
//! never start a cluster of their own.
//!
//! This file is also compiled into the command line's tests
//! (`cli/tests/cli/main.rs`, by `#[path]`).

#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The variable naming an existing server to test against.
pub const URL_VAR: &str = "REAGENTIC_TEST_POSTGRES_URL";

/// The server every test of this process shares.
pub struct Server {
    /// `postgres://user[:password]@host:port/` — without a database.
    base: String,
    /// The database the administrative connection uses.
    admin_db: String,
    /// Our own cluster, when we started one (kept for its lifetime).
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The shared server, started on first use; panics (failing the test) with
/// the reason when there is none.
pub fn server() -> &'static Server {
    match SERVER.get_or_init(start_server) {
        Ok(server) => server,
        Err(reason) => panic!("no PostgreSQL server for the tests: {reason}"),
    }
}

fn start_server() -> Result<Server, String> {
    if let Ok(url) = std::env::var(URL_VAR) {
        let (base, admin_db) = split_database(&url);
        return Ok(Server {
            base,
            admin_db,
            _cluster: None,
        });
    }
    let cluster = Cluster::start(ClusterOptions::fast())?;
    Ok(Server {
        base: cluster.base_url(),
        admin_db: "postgres".into(),
        _cluster: Some(cluster),
    })
}

/// `postgres://u@h:p/db?x` → (`postgres://u@h:p/`, `db`) (query dropped).
fn split_database(url: &str) -> (String, String) {
    let url = url.split('?').next().unwrap_or(url);
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => {
            let at = after_scheme + slash;
            let db = &url[at + 1..];
            (
                url[..=at].to_owned(),
                if db.is_empty() {
                    "postgres".into()
                } else {
                    db.into()
                },
            )
        }
        None => (format!("{url}/"), "postgres".into()),
    }
}

impl Server {
    /// A new, empty database for one test; returns its URL. `hint` becomes
    /// part of the name, to tell databases apart in the server's log.
    pub fn database(&self, hint: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!("t{}_{n}_{clean}", std::process::id());
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e:?}"));
        self.url_of(&name)
    }

    /// The URL of database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    /// A client on the administrative database.
    pub fn admin(&self) -> postgres::Client {
        connect(&self.url_of(&self.admin_db))
    }
}

/// A plain client of `url`, for looking at a database beside the crate.
pub fn connect(url: &str) -> postgres::Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(url, postgres::NoTls) {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot connect to the test server: {e:?}"),
        }
    }
}

/// A new database on the shared server, for one test.
pub fn database(hint: &str) -> String {
    server().database(hint)
}

// ---------------------------------------------------------------- cluster

/// How a throwaway cluster is run.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// `fsync` on: the restart tests check what survives a crash of the server.
    pub durable: bool,
    /// TLS on, with a self-signed certificate for `localhost` and
    /// `127.0.0.1` (made by the `openssl` command), in `server.crt`.
    pub tls: bool,
}

impl ClusterOptions {
    /// For the shared cluster: no `fsync` (nothing here survives a power loss).
    pub fn fast() -> Self {
        ClusterOptions {
            durable: false,
            tls: false,
        }
    }

    /// For a cluster a test crashes and restarts.
    pub fn durable() -> Self {
        ClusterOptions {
            durable: true,
            tls: false,
        }
    }

    /// For the TLS tests.
    pub fn tls() -> Self {
        ClusterOptions {
            durable: false,
            tls: true,
        }
    }
}

/// A PostgreSQL cluster this process started, in a temporary folder.
pub struct Cluster {
    dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    options: ClusterOptions,
    /// Run the server's programs as this user (root may not run them).
    as_user: Option<(u32, u32)>,
}

impl Cluster {
    /// `initdb`, then start it on a free port; a watcher removes it after
    /// this process exits.
    pub fn start(options: ClusterOptions) -> Result<Cluster, String> {
        let bin = server_binaries()?;
        let as_user = if running_as_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "reagentic-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = as_user {
            chown(&dir, uid, gid)?;
        }
        watch_and_remove(&dir);
        let data = dir.join("data");
        let mut cluster = Cluster {
            dir,
            data,
            bin,
            port: 0,
            options,
            as_user,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        if cluster.options.tls {
            cluster.make_certificate()?;
        }
        cluster.port = free_port()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The server's self-signed certificate (with TLS on): a client's root.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("server.crt")
    }

    fn make_certificate(&self) -> Result<(), String> {
        let output = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(self.dir.join("server.key"))
            .arg("-out")
            .arg(self.certificate())
            .output()
            .map_err(|e| format!("cannot run openssl (to make a test certificate): {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        for file in ["server.key", "server.crt"] {
            let path = self.dir.join(file);
            if let Some((uid, gid)) = self.as_user {
                chown(&path, uid, gid)?;
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// `postgres://postgres@127.0.0.1:PORT/` (trust authentication).
    pub fn base_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/", self.port)
    }

    /// A new database on this cluster; returns its URL.
    pub fn database(&self, name: &str) -> String {
        let mut admin = connect(&format!("{}postgres", self.base_url()));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e:?}"));
        format!("{}{name}", self.base_url())
    }

    /// Stops the server as a crash would (`immediate`: no checkpoint, the
    /// next start recovers from the WAL), then starts it again on the same
    /// port. Clients see their connections drop.
    pub fn crash_and_restart(&self, down_for: Duration) -> Result<(), String> {
        self.stop("immediate")?;
        std::thread::sleep(down_for);
        self.start_server()
    }

    /// Stops the server (`fast`: connections are ended, a clean shutdown).
    pub fn stop(&self, mode: &str) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-m",
                mode,
                "-w",
                "-t",
                "60",
                "stop",
            ],
        )
    }

    /// Starts the server again after [`stop`](Self::stop).
    pub fn start_again(&self) -> Result<(), String> {
        self.start_server()
    }

    fn start_server(&self) -> Result<(), String> {
        let mut settings = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c shared_buffers=128MB",
            self.port,
            self.dir.display()
        );
        if !self.options.durable {
            settings.push_str(" -c fsync=off -c full_page_writes=off");
        }
        if self.options.tls {
            settings.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.certificate().display(),
                self.dir.join("server.key").display()
            ));
        }
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-o",
                &settings,
                "-l",
                &self.dir.join("server.log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut command = Command::new(self.bin.join(program));
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        if let Some((uid, gid)) = self.as_user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        let output = command
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {} failed ({}): {}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A cluster owned by a test stops with it; the shared one lives in a
        // static and is stopped by its watcher once the process has exited.
        let _ = self.stop("immediate");
    }
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: `PG_BINDIR`, the
/// newest `/usr/lib/postgresql/*/bin`, or `pg_config --bindir`.
fn server_binaries() -> Result<PathBuf, String> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        if has_all(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_all(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_all(&dir) {
            return Ok(dir);
        }
    }
    Err(format!(
        "PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed \
         (looked in $PG_BINDIR, /usr/lib/postgresql/*/bin and `pg_config --bindir`): \
         install them (Debian: apt-get install postgresql) or set {URL_VAR} to a \
         server where the user may CREATE DATABASE"
    ))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The `postgres` user's uid and gid (PostgreSQL refuses to run as root).
fn postgres_user() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("cannot run id: {e}"))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root, and there is no `postgres` user to run the test server as \
                 (PostgreSQL refuses root): create one, or run the tests as another user"
                    .to_owned()
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let status = Command::new("chown")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .map_err(|e| format!("cannot run chown: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("chown {} failed", path.display()))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts a process that waits for this one to exit, then stops any server
/// still running in `dir` (as a crash would: it is thrown away) and removes
/// the folder. It outlives us on purpose; it reads nothing of ours.
fn watch_and_remove(dir: &Path) {
    let script = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if [ -f "$2/data/postmaster.pid" ]; then
  pid=$(head -n 1 "$2/data/postmaster.pid")
  kill -QUIT "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$2"
"#;
    let _ = Command::new("sh")
        .args(["-c", script, "watcher"])
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
