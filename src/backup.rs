//! Backups of the whole site (articles, comments, subscribers, accounts, media: all of it lives
//! in the database) taken while it serves, and restoring one.
//!
//! A backup is one file with its SHA-256 beside it in `OUT.sha256` (`sha256sum -c` reads it):
//! on SQLite a copy of the database made by `VACUUM INTO` (a consistent snapshot read while
//! writers go on), on PostgreSQL the site's schema as `pg_dump` writes it (plain SQL, one
//! snapshot). Restoring checks the checksum and the copy before anything is replaced, and
//! replaces the database as a whole or not at all.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;

use crate::store::{Db, Dialect};

/// The file `serve` holds a shared lock on while it runs, so that a restore refuses to replace
/// the database under a running site.
pub const SERVE_LOCK: &str = "openvoice.lock";

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"--\n-- PostgreSQL database dump";

/// A backup written: where, how big, its checksum.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// Holds the serve lock of `data_dir` for as long as the returned file lives.
pub fn hold_serve_lock(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join(SERVE_LOCK);
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.lock_shared().with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

/// Writes a backup of `db` (reached at `database_url`) to `out`, which must not exist. The file
/// appears under its name only once complete, with its checksum.
pub async fn take(db: &Db, database_url: &str, out: &Path) -> anyhow::Result<Written> {
    if out.exists() {
        bail!("{} already exists; a backup never overwrites a file", out.display());
    }
    let partial = sibling(out, ".partial");
    let _ = std::fs::remove_file(&partial);
    let made = match db.dialect {
        Dialect::Sqlite => sqlx::query("VACUUM INTO $1")
            .bind(partial.to_string_lossy().into_owned())
            .execute(&db.pool)
            .await
            .map(drop)
            .with_context(|| format!("copying the database into {}", partial.display())),
        Dialect::Postgres => pg_dump(db, database_url, &partial).await,
    };
    if let Err(err) = made {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    let (sha256, bytes) = sha256_of(&partial)?;
    let checksum = checksum_path(out);
    std::fs::write(&checksum, format!("{sha256}  {}\n", file_name(out)))
        .with_context(|| format!("writing {}", checksum.display()))?;
    std::fs::rename(&partial, out).with_context(|| format!("moving the backup to {}", out.display()))?;
    Ok(Written { path: out.to_path_buf(), bytes, sha256 })
}

/// What a restore replaced.
#[derive(Debug)]
pub enum Restored {
    /// The SQLite database file, its previous content kept under `previous`.
    Sqlite { database: PathBuf, previous: Option<PathBuf> },
    /// The PostgreSQL schema, replaced in one transaction.
    Postgres { schema: String },
}

/// Restores the backup `file` into the database at `database_url`, once its checksum and its
/// content check out; refuses while `serve` runs on `data_dir`.
pub async fn restore(file: &Path, database_url: &str, data_dir: &Path) -> anyhow::Result<Restored> {
    let expected = read_checksum(file)?;
    let (actual, _) = sha256_of(file)?;
    if actual != expected {
        bail!(
            "{} does not match its checksum in {} (sha256 {actual}, expected {expected}): the file is damaged or not that backup; nothing was replaced",
            file.display(),
            checksum_path(file).display()
        );
    }
    let lock_path = data_dir.join(SERVE_LOCK);
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "the site is running (`openvoice serve` holds {}): stop it first; nothing was replaced",
            lock_path.display()
        );
    }
    let magic = read_start(file, PG_DUMP_MAGIC.len())?;
    let is_sqlite = magic.starts_with(SQLITE_MAGIC);
    let is_pg_dump = magic.starts_with(PG_DUMP_MAGIC);
    if database_url.starts_with("sqlite:") {
        if !is_sqlite {
            bail!(
                "{} is not a SQLite backup, and this site's database is SQLite; nothing was replaced",
                file.display()
            );
        }
        restore_sqlite(file, database_url).await
    } else {
        if !is_pg_dump {
            bail!(
                "{} is not a PostgreSQL backup (`openvoice backup` of a PostgreSQL site), and this site's database is PostgreSQL; nothing was replaced",
                file.display()
            );
        }
        restore_postgres(file, database_url).await
    }
}

async fn restore_sqlite(file: &Path, database_url: &str) -> anyhow::Result<Restored> {
    let options = SqliteConnectOptions::from_str(database_url).context("parsing the database URL")?;
    let database = options.get_filename().to_path_buf();
    // The copy is staged beside the database and checked there (opened, brought up to this
    // version's schema, its integrity checked): a bad copy stops the restore before the database
    // is touched, and the last step is a rename, which is all or nothing.
    let staged = sibling(&database, ".restoring");
    remove_with_journal(&staged);
    std::fs::copy(file, &staged).with_context(|| format!("copying {} to {}", file.display(), staged.display()))?;
    if let Err(err) = check_sqlite(&staged).await {
        remove_with_journal(&staged);
        return Err(err.context(format!("{} is not a usable OpenVoice backup; nothing was replaced", file.display())));
    }
    let previous = if database.exists() {
        let previous = sibling(&database, &format!(".before-restore-{}", crate::store::now()));
        for suffix in ["", "-wal", "-shm"] {
            let (from, to) = (sibling(&database, suffix), sibling(&previous, suffix));
            if from.exists() {
                std::fs::rename(&from, &to).with_context(|| format!("moving {} aside", from.display()))?;
            }
        }
        Some(previous)
    } else {
        None
    };
    std::fs::rename(&staged, &database)
        .with_context(|| format!("moving the restored copy to {}", database.display()))?;
    Ok(Restored::Sqlite { database, previous })
}

async fn check_sqlite(staged: &Path) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", staged.display());
    let db = Db::connect(&url, 1).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&db.pool).await?;
    let articles: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM articles").fetch_one(&db.pool).await;
    // Back to one file: the rename that puts it in place moves no journal.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&db.pool).await?;
    db.pool.close().await;
    if integrity != "ok" {
        bail!("SQLite's integrity check failed: {integrity}");
    }
    articles.context("it holds no articles table")?;
    Ok(())
}

async fn restore_postgres(file: &Path, database_url: &str) -> anyhow::Result<Restored> {
    let schema = dumped_schema(file)?;
    let db = Db::connect(database_url, 1).await?;
    let current: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&db.pool).await?;
    db.pool.close().await;
    if current != schema {
        bail!(
            "{} holds the schema {schema:?}, and this site's database uses {current:?}; nothing was replaced",
            file.display()
        );
    }
    let connection = LibpqTarget::of(database_url)?;
    let drop_schema = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;");
    // One transaction for the drop and the whole dump; the first error rolls all of it back.
    let output = connection
        .command("psql")
        .args(["--quiet", "--no-psqlrc", "--single-transaction", "--set=ON_ERROR_STOP=1", "--command", &drop_schema])
        .arg("--file")
        .arg(file)
        .output()
        .await
        .context("running psql (install the PostgreSQL client: apt-get install postgresql-client)")?;
    if !output.status.success() {
        bail!(
            "psql could not restore {}; nothing was replaced: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // A backup of an older version is brought up to this one's schema.
    Db::connect(database_url, 1).await?.pool.close().await;
    Ok(Restored::Postgres { schema })
}

async fn pg_dump(db: &Db, database_url: &str, out: &Path) -> anyhow::Result<()> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&db.pool).await?;
    let output = LibpqTarget::of(database_url)?
        .command("pg_dump")
        .args(["--no-owner", "--no-privileges", "--schema", &schema, "--file"])
        .arg(out)
        .output()
        .await
        .context("running pg_dump (install the PostgreSQL client of the server's version: apt-get install postgresql-client)")?;
    if !output.status.success() {
        bail!("pg_dump failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// The schema a `pg_dump --schema` file creates.
fn dumped_schema(file: &Path) -> anyhow::Result<String> {
    let reader = std::io::BufReader::new(std::fs::File::open(file)?);
    for line in std::io::BufRead::lines(reader).take(200) {
        if let Some(name) = line?.strip_prefix("CREATE SCHEMA ").and_then(|rest| rest.strip_suffix(';')) {
            return Ok(name.trim_matches('"').to_string());
        }
    }
    bail!("{} creates no schema: not a backup made by `openvoice backup`; nothing was replaced", file.display())
}

/// A PostgreSQL URL as the libpq tools take it: sqlx's own query options dropped, and the
/// password handed over in the environment rather than on a command line others can read.
struct LibpqTarget {
    url: String,
    password: Option<String>,
}

impl LibpqTarget {
    fn of(database_url: &str) -> anyhow::Result<LibpqTarget> {
        let mut url = reqwest::Url::parse(database_url).context("parsing the database URL")?;
        let password = url.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| {
                matches!(key.as_ref(), "sslmode" | "sslrootcert" | "sslcert" | "sslkey" | "application_name")
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Ok(LibpqTarget { url: url.to_string(), password })
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command.arg("--dbname").arg(&self.url);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        command
    }
}

fn read_checksum(file: &Path) -> anyhow::Result<String> {
    let path = checksum_path(file);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (the checksum `openvoice backup` writes beside the backup); nothing was replaced",
            path.display()
        )
    })?;
    let hex = text.split_whitespace().next().unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{} holds no SHA-256 checksum (expected `<64 hex digits>  <name>`); nothing was replaced",
            path.display()
        );
    }
    Ok(hex.to_ascii_lowercase())
}

fn sha256_of(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

fn read_start(path: &Path, len: usize) -> anyhow::Result<Vec<u8>> {
    let mut start = Vec::with_capacity(len);
    std::fs::File::open(path)?.take(len as u64).read_to_end(&mut start)?;
    Ok(start)
}

fn checksum_path(file: &Path) -> PathBuf {
    sibling(file, ".sha256")
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn remove_with_journal(database: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(database, suffix));
    }
}
