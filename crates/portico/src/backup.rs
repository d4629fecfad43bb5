//! Backups (X14): `portico backup --to FILE` copies a running SQLite
//! database and its file store into one tar archive; `portico restore
//! --from FILE` unpacks one into an empty data folder. On PostgreSQL the
//! database is backed up with `pg_dump`; see `docs/BACKUPS.md`.
//!
//! The archive holds `manifest.json` first, then `database/portico.db` (a
//! consistent copy made with `VACUUM INTO` while the server runs), then
//! `files/<key>` for every file the copy names, then `data/<name>` for the
//! other files at the top of the data folder (a key file, if there is one).
//!
//! The database is copied first and the files after: a file's bytes are
//! stored before the row that names it commits, so every file of the copy
//! is there, unless it was deleted after the copy began (its bytes are
//! removed only after the deletion commits). Such a file's row is taken out
//! of the copy and listed in the manifest, so a restored portal never
//! offers a file it does not have.

use crate::config::Config;
use crate::store::{Backend, Store, StoreOptions};
use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// The archive format this version writes and reads.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "database/portico.db";

/// What PostgreSQL deployments keep instead, shown by `portico backup`.
pub const POSTGRES_ADVICE: &str = "\
the database is PostgreSQL: back it up with PostgreSQL's own tools, e.g.
  pg_dump --format=custom --file=portico.dump \"$PORTICO_DATABASE_URL\"
and restore with pg_restore into an empty database. Keep with each dump:
  - the file store: the files folder of the data folder (<data_dir>/files), or the
    S3 bucket named by files_url (with versioning, or a copy made after the dump);
  - any key file in the data folder (e.g. the key that encrypts secrets at rest),
    and the configuration (portico.toml, PORTICO_* settings).
See docs/BACKUPS.md.";

/// The first entry of an archive: what it holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub portico_version: String,
    /// When the copy was taken (unix milliseconds).
    pub created_at: i64,
    pub engine: String,
    /// Files in the archive (`files/<key>`).
    pub files: usize,
    /// Files whose rows were taken out of the copy: deleted after the
    /// database was copied, before their bytes were.
    pub deleted_meanwhile: Vec<String>,
    /// Files of the data folder kept as `data/<name>`.
    pub data_files: Vec<String>,
    /// False when files live in an S3 bucket (kept by the bucket's means).
    pub includes_file_store: bool,
}

/// `portico backup --to FILE`.
pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<Manifest> {
    let url = config.database_url.expose_secret();
    if Backend::from_url(url).map_err(anyhow::Error::msg)? == Backend::Postgres {
        bail!("{POSTGRES_ADVICE}");
    }
    let database_file = sqlite_path(url)?;
    let work = tempfile::Builder::new()
        .prefix(".portico-backup-")
        .tempdir_in(
            to.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .with_context(|| format!("could not make a working folder beside {}", to.display()))?;
    let copy = work.path().join("portico.db");

    let store = Store::connect(url, &StoreOptions::default())
        .await
        .with_context(|| {
            format!(
                "could not open the database at {}",
                config.database_url_for_display()
            )
        })?;
    store
        .copy_into(&copy)
        .await
        .context("could not copy the database")?;
    store.close().await;

    let includes_file_store = config.files_url.is_none();
    let files_dir = config.data_dir.join("files");
    let copy_url = format!("sqlite://{}", copy.display());
    let snapshot = Store::connect(&copy_url, &StoreOptions::default())
        .await
        .context("could not open the copy of the database")?;
    let keys = if includes_file_store {
        snapshot.storage_keys().await?
    } else {
        Vec::new()
    };

    let data_dir = config.data_dir.clone();
    let to_path = to.to_owned();
    let partial = work.path().join("archive.tar");
    let (files, deleted_meanwhile, data_files) = {
        let partial = partial.clone();
        let files_dir = files_dir.clone();
        tokio::task::spawn_blocking(move || {
            write_files(&partial, &files_dir, &keys, &data_dir, &database_file)
        })
        .await
        .context("the backup stopped")??
    };
    snapshot.forget_files(&deleted_meanwhile).await?;
    snapshot.close().await;

    let manifest = Manifest {
        format: FORMAT,
        portico_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: crate::domain::Millis::now().0,
        engine: "sqlite".into(),
        files,
        deleted_meanwhile,
        data_files,
        includes_file_store,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    tokio::task::spawn_blocking(move || finish_archive(&to_path, &manifest_json, &copy, &partial))
        .await
        .context("the backup stopped")??;
    Ok(manifest)
}

/// Writes the files of the file store and of the data folder into a tar at
/// `partial`; returns how many files, the keys whose bytes were gone, and
/// the data folder's files kept.
fn write_files(
    partial: &Path,
    files_dir: &Path,
    keys: &[String],
    data_dir: &Path,
    database_file: &Path,
) -> anyhow::Result<(usize, Vec<String>, Vec<String>)> {
    let out = std::fs::File::create(partial)
        .with_context(|| format!("could not write {}", partial.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    let mut files = 0;
    let mut gone = Vec::new();
    for key in keys {
        if !is_plain_relative(Path::new(key)) {
            bail!("the database names a file outside the file store: {key:?}");
        }
        match std::fs::File::open(files_dir.join(key)) {
            Ok(mut file) => {
                tar.append_file(Path::new("files").join(key), &mut file)
                    .with_context(|| format!("could not archive the file {key}"))?;
                files += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(key.clone()),
            Err(e) => return Err(e).with_context(|| format!("could not read the file {key}")),
        }
    }
    let mut data_files = Vec::new();
    let database_name = database_file.file_name().map(|n| n.to_owned());
    let same_folder = database_file
        .parent()
        .map(std::fs::canonicalize)
        .transpose()
        .ok()
        .flatten()
        == std::fs::canonicalize(data_dir).ok();
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(text) = name.to_str() else { continue };
            let is_database = same_folder
                && database_name
                    .as_deref()
                    .and_then(|n| n.to_str())
                    .is_some_and(|db| {
                        text == db
                            || text
                                .strip_prefix(db)
                                .is_some_and(|rest| ["-wal", "-shm", "-journal"].contains(&rest))
                    });
            if is_database || text == ".portico-write-check" || !entry.path().is_file() {
                continue;
            }
            let mut file = std::fs::File::open(entry.path())
                .with_context(|| format!("could not read {}", entry.path().display()))?;
            tar.append_file(Path::new("data").join(text), &mut file)
                .with_context(|| format!("could not archive {}", entry.path().display()))?;
            data_files.push(text.to_owned());
        }
    }
    tar.into_inner()
        .context("could not finish the archive")?
        .into_inner()
        .map_err(|e| e.into_error())
        .context("could not finish the archive")?
        .sync_all()
        .context("could not finish the archive")?;
    Ok((files, gone, data_files))
}

/// The archive: manifest, database, then the entries written to `partial`;
/// written beside `to` and renamed over it once complete and synced.
fn finish_archive(
    to: &Path,
    manifest: &[u8],
    database: &Path,
    partial: &Path,
) -> anyhow::Result<()> {
    let staging = to.with_extension("partial");
    let out = std::fs::File::create(&staging)
        .with_context(|| format!("could not write {}", staging.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest)?;
    let mut db =
        std::fs::File::open(database).context("could not read the copy of the database")?;
    tar.append_file(DATABASE, &mut db)?;
    // The files, as written before (their entries are copied whole).
    let mut rest = tar::Archive::new(std::fs::File::open(partial)?);
    for entry in rest.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let path = entry.path()?.into_owned();
        tar.append_data(&mut header, path, &mut entry)?;
    }
    tar.into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
        .with_context(|| format!("could not write {}", staging.display()))?;
    std::fs::rename(&staging, to).with_context(|| format!("could not write {}", to.display()))?;
    Ok(())
}

/// `portico restore --from FILE`: into an empty (or missing) data folder
/// and a SQLite database that does not exist yet.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<Manifest> {
    let url = config.database_url.expose_secret();
    if Backend::from_url(url).map_err(anyhow::Error::msg)? == Backend::Postgres {
        bail!(
            "the database is PostgreSQL: restore it with pg_restore (see docs/BACKUPS.md); \
             portico restore unpacks archives made by portico backup on SQLite"
        );
    }
    let database_file = sqlite_path(url)?;
    let data_dir = config.data_dir.clone();
    let files_dir = data_dir.join("files");
    let from = from.to_owned();
    tokio::task::spawn_blocking(move || unpack(&from, &data_dir, &files_dir, &database_file))
        .await
        .context("the restore stopped")?
}

fn unpack(
    from: &Path,
    data_dir: &Path,
    files_dir: &Path,
    database_file: &Path,
) -> anyhow::Result<Manifest> {
    if let Ok(mut entries) = std::fs::read_dir(data_dir)
        && entries.next().is_some()
    {
        bail!(
            "the data folder {} is not empty: restore into an empty folder (nothing was changed)",
            data_dir.display()
        );
    }
    if database_file.exists() {
        bail!(
            "the database {} already exists: restore into a new one (nothing was changed)",
            database_file.display()
        );
    }
    let archive =
        std::fs::File::open(from).with_context(|| format!("could not open {}", from.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(archive));
    let mut entries = archive.entries().context("not a Portico backup")?;
    let manifest: Manifest = {
        let mut first = entries
            .next()
            .context("the archive is empty")?
            .context("not a Portico backup")?;
        if *first.path()? != *Path::new(MANIFEST) {
            bail!("{} is not a Portico backup (no manifest)", from.display());
        }
        serde_json::from_reader(&mut first).context("the backup's manifest is not readable")?
    };
    if manifest.format != FORMAT {
        bail!(
            "this backup has format {}, which this version of Portico does not read",
            manifest.format
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("could not create {}", data_dir.display()))?;
    let mut database = false;
    for entry in entries {
        let mut entry = entry.context("the archive is damaged")?;
        let path = entry.path()?.into_owned();
        if !is_plain_relative(&path) {
            bail!("the archive holds an unsafe path: {}", path.display());
        }
        let target: PathBuf = if path == Path::new(DATABASE) {
            database = true;
            database_file.to_owned()
        } else if let Ok(key) = path.strip_prefix("files") {
            files_dir.join(key)
        } else if let Ok(name) = path.strip_prefix("data") {
            data_dir.join(name)
        } else {
            continue;
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("could not write {}", target.display()))?;
    }
    if !database {
        bail!("the archive holds no database");
    }
    Ok(manifest)
}

/// A path of plain names only (no `..`, no root).
fn is_plain_relative(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_)))
        && path.components().next().is_some()
}

/// The file of a `sqlite://` URL.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .context("the database URL is not a sqlite:// URL")?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        bail!("an in-memory database cannot be backed up or restored");
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://portico-data/portico.db").unwrap(),
            PathBuf::from("portico-data/portico.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/portico/portico.db?mode=rwc").unwrap(),
            PathBuf::from("/var/lib/portico/portico.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
    }

    #[test]
    fn archive_paths_stay_inside() {
        assert!(is_plain_relative(Path::new("files/p/f")));
        assert!(!is_plain_relative(Path::new("../etc/passwd")));
        assert!(!is_plain_relative(Path::new("/etc/passwd")));
        assert!(!is_plain_relative(Path::new("")));
    }
}
