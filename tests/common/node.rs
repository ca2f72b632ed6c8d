//! `openvoice serve` as a child process, started as an operator starts it. Its output goes to a
//! log file, and a `panicked` line there fails the test that ran it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Node {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: PathBuf,
}

impl Node {
    /// `serve` for the data folder `dir` on `port` (0: a free one), with its database at
    /// `database_url` (`None`: the folder's own SQLite file) and extra environment.
    pub fn start(dir: &Path, database_url: Option<&str>, port: u16, env: &[(&str, &str)]) -> Node {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let port = if port == 0 { super::free_port() } else { port };
        let log = dir.join(format!("serve-{port}-{}.log", STARTED.fetch_add(1, Ordering::Relaxed)));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_openvoice"));
        command.arg("--data").arg(dir);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        command.env_remove("OPENVOICE_LISTEN").env("OPENVOICE_LOG", "info").envs(env.iter().copied());
        let child = command.stdout(file.try_clone().expect("log file")).stderr(file).spawn().expect("serve");
        Node { child, base: format!("http://127.0.0.1:{port}"), log }
    }

    pub async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if client.get(format!("{}/healthz", self.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(self.child.try_wait().expect("child").is_none(), "the node exited:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node {} did not become healthy:\n{}", self.base, self.log());
    }

    /// Everything the node printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status and everything the node printed.
    pub fn stop(mut self) -> (ExitStatus, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let status = self.child.wait().expect("exit status");
        (status, self.log())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        let log = self.log();
        if !std::thread::panicking() && log.contains("panicked") {
            panic!("the node at {} panicked:\n{log}", self.base);
        }
    }
}
