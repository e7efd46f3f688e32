//! Atomic outputs: a COPY writes into a hidden staging directory beside its destination (same
//! object store, same parent directory) and is moved into place only once the statement has
//! succeeded. A failure, a Ctrl-C or a panic removes the staging directory and leaves the
//! destination exactly as it was; a SIGKILL can leave only the hidden staging directory
//! (`.teams-sql-<pid>-<n>.tmp`), never a half-written destination.
//!
//! Moving into place is one `rename` for a single file, which every object store offers
//! (the local filesystem renames atomically; S3, Azure and GCS copy then delete, and the copy
//! replaces the object in one step). A directory is moved file by file, Delta logs last, so a
//! reader never sees a `_delta_log` entry before the data files it names; a new local
//! directory is moved with one rename.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Result, ShellError};

/// Marks every staging directory; a leftover of a killed process is recognisable by it.
pub const STAGING_PREFIX: &str = ".teams-sql-";
const STAGING_SUFFIX: &str = ".tmp";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A staging directory this old belongs to a run that can no longer finish it, whatever its
/// pid says (a store shared by several machines cannot check a pid; no COPY or sync commit
/// takes a day between staging and moving into place).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The pid and creation time (nanoseconds since 1970) in one of our staging names,
/// `.teams-sql-<pid>-<nanos>-<n>.tmp`; `None` for any other name.
fn staging_name(name: &str) -> Option<(u32, u128)> {
    let inner = name
        .strip_prefix(STAGING_PREFIX)?
        .strip_suffix(STAGING_SUFFIX)?;
    let mut parts = inner.split('-');
    let pid = parts.next()?.parse().ok()?;
    let nanos = parts.next()?.parse().ok()?;
    let _n: u64 = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((pid, nanos))
}

/// Whether the process that made a staging directory is certainly gone: on Linux, a local
/// destination's pid that no longer runs. Elsewhere only age tells (see [`STALE_AFTER`]).
fn writer_gone(pid: u32, local: bool) -> bool {
    if !local || pid == std::process::id() || !cfg!(target_os = "linux") {
        return false;
    }
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn is_stale(name: &str, local: bool, now_nanos: u128) -> bool {
    let Some((pid, nanos)) = staging_name(name) else {
        return false;
    };
    now_nanos.saturating_sub(nanos) > STALE_AFTER.as_nanos() || writer_gone(pid, local)
}

/// Removes what killed runs left in `parent`: our staging directories (by name) whose writer
/// is gone or which are older than a day. Nothing else is touched. Best effort: a store that
/// cannot be listed is left as it is, since the statement that follows reports that itself.
pub async fn remove_stale(store: &Arc<dyn ObjectStore>, parent: &Path, local: bool) {
    let Ok(listed) = store.list_with_delimiter(Some(parent)).await else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for dir in listed.common_prefixes {
        let Some(name) = dir.filename() else {
            continue;
        };
        if !is_stale(name, local, now) {
            continue;
        }
        if let Some(on_disk) = local_path(local, &dir) {
            let _ = std::fs::remove_dir_all(on_disk);
            continue;
        }
        let files: Vec<Path> = store
            .list(Some(&dir))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .unwrap_or_default();
        for f in files {
            let _ = store.delete(&f).await;
        }
    }
}

/// A staging location beside a destination, removed on drop unless committed.
pub struct Staging {
    store: Arc<dyn ObjectStore>,
    store_url: ObjectStoreUrl,
    /// The hidden staging directory.
    root: Path,
    /// What the statement writes: `root/<destination name>`.
    staged: Path,
    dest: Path,
    /// The directory holding destination and staging directory.
    parent: Path,
    /// Local destinations: the staging directory on disk, and the destination's ancestors
    /// that did not exist before (deepest first), removed again if the statement fails.
    local: Option<LocalDirs>,
    finished: bool,
}

struct LocalDirs {
    root: PathBuf,
    staged: PathBuf,
    dest: PathBuf,
    created: Vec<PathBuf>,
}

/// Where a destination is and which store holds it (the store must already be registered in
/// the session, as `destinations::register_for_copy` does for cloud URLs).
pub struct Target {
    pub url: ListingTableUrl,
    pub store: Arc<dyn ObjectStore>,
}

impl Target {
    pub fn resolve(ctx: &SessionContext, target: &str) -> Result<Target> {
        let url = ListingTableUrl::parse(target)?;
        let store = ctx.runtime_env().object_store(url.object_store())?;
        Ok(Target { url, store })
    }

    pub fn is_local(&self) -> bool {
        self.url.scheme() == "file"
    }

    pub fn path(&self) -> &Path {
        self.url.prefix()
    }

    /// The destination as a local path, for a `file://` destination.
    pub fn local_path(&self) -> Option<PathBuf> {
        local_path(self.is_local(), self.path())
    }

    /// Every object under the destination taken as a directory (none for a missing one).
    pub async fn list_under(&self) -> Result<Vec<Path>> {
        let prefix = self.path().clone();
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(store_error)?;
        Ok(metas.into_iter().map(|m| m.location).collect())
    }
}

fn local_path(is_local: bool, path: &Path) -> Option<PathBuf> {
    if !is_local {
        return None;
    }
    object_store::local::LocalFileSystem::new()
        .path_to_filesystem(path)
        .ok()
}

fn store_error(e: object_store::Error) -> ShellError {
    ShellError::Destination(format!("COPY destination: {e}"))
}

impl Staging {
    /// Prepares a staging directory beside `target`. Nothing is created yet: the writer
    /// creates what it writes.
    pub fn beside(target: &Target) -> Result<Staging> {
        let dest = target.path().clone();
        let parts: Vec<_> = dest.parts().collect();
        let Some((name, parent)) = parts.split_last() else {
            return Err(ShellError::Destination(
                "COPY needs a file or directory name as its destination, not the root of a store"
                    .to_string(),
            ));
        };
        let unique = format!(
            "{STAGING_PREFIX}{}-{}-{}{STAGING_SUFFIX}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let parent_path = Path::from_iter(parent.iter().cloned());
        let root = Path::from_iter(
            parent
                .iter()
                .cloned()
                .chain([PathPart::from(unique.clone())]),
        );
        let staged = root.clone().join(name.clone());
        let local = match target.local_path() {
            None => None,
            Some(dest_dir) => {
                let mut created = Vec::new();
                let mut dir = dest_dir.parent().map(|p| p.to_path_buf());
                while let Some(d) = dir {
                    if d.exists() {
                        break;
                    }
                    dir = d.parent().map(|p| p.to_path_buf());
                    created.push(d);
                }
                let root_dir = local_path(true, &root).ok_or_else(|| {
                    ShellError::Destination(format!("cannot stage beside {}", dest_dir.display()))
                })?;
                Some(LocalDirs {
                    staged: local_path(true, &staged).unwrap_or_else(|| root_dir.clone()),
                    root: root_dir,
                    dest: dest_dir,
                    created,
                })
            }
        };
        Ok(Staging {
            store: Arc::clone(&target.store),
            store_url: target.url.object_store(),
            root,
            staged,
            dest,
            parent: parent_path,
            local,
            finished: false,
        })
    }

    /// The URL the statement should write to instead of the destination; `directory` adds
    /// the trailing slash DataFusion reads as "write a directory of files".
    pub fn staged_url(&self, directory: bool) -> String {
        let slash = if directory { "/" } else { "" };
        format!("{}{}{slash}", self.store_url.as_str(), self.staged.as_ref())
    }

    /// Moves a staged single file over the destination.
    pub async fn commit_file(mut self) -> Result<()> {
        self.store
            .rename(&self.staged, &self.dest)
            .await
            .map_err(store_error)?;
        self.finish().await;
        Ok(())
    }

    /// Moves every staged file under the destination directory, Delta log entries last (in
    /// version order) so that a commit never names a file that is not there yet.
    pub async fn commit_dir(mut self) -> Result<()> {
        if let Some(l) = &self.local
            && !l.dest.exists()
        {
            // A new local directory appears in one step.
            std::fs::rename(&l.staged, &l.dest)?;
            self.finish().await;
            return Ok(());
        }
        let mut files: Vec<Path> = self
            .store
            .list(Some(&self.staged))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(store_error)?;
        let staged_depth = self.staged.parts().count();
        let relative = |p: &Path| -> Vec<String> {
            p.parts()
                .skip(staged_depth)
                .map(|s| s.as_ref().to_string())
                .collect()
        };
        files.sort_by_key(|p| {
            let rel = relative(p);
            (rel.first().is_some_and(|s| s == "_delta_log"), rel)
        });
        for from in &files {
            let mut to = self.dest.clone();
            for part in relative(from) {
                to = to.join(part);
            }
            self.store.rename(from, &to).await.map_err(store_error)?;
        }
        self.finish().await;
        Ok(())
    }

    /// Removes the staging directory (and any parent directory the statement created).
    pub async fn abort(mut self) {
        self.remove_staged().await;
        self.finished = true;
    }

    async fn finish(&mut self) {
        if let Some(l) = &mut self.local {
            // The destination now exists: its parents stay.
            l.created.clear();
        }
        self.remove_staged().await;
        self.finished = true;
        // What an earlier run killed here (SIGKILL skips every clean-up) goes now.
        remove_stale(&self.store, &self.parent, self.local.is_some()).await;
    }

    async fn remove_staged(&mut self) {
        let listed: Vec<Path> = self
            .store
            .list(Some(&self.root))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .unwrap_or_default();
        for p in listed {
            let _ = self.store.delete(&p).await;
        }
        self.remove_local_dirs();
    }

    fn remove_local_dirs(&mut self) {
        if let Some(l) = &self.local {
            let _ = std::fs::remove_dir_all(&l.root);
            for d in &l.created {
                // Only if empty: something else may have been put there meanwhile.
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

impl Drop for Staging {
    /// A statement cancelled with Ctrl-C is dropped mid-write: clean up what can be cleaned
    /// up without awaiting (local files now; object stores in a background task).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if self.local.is_some() {
            self.remove_local_dirs();
        } else if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            let root = self.root.clone();
            handle.spawn(async move {
                let listed: Vec<Path> = store
                    .list(Some(&root))
                    .map_ok(|m| m.location)
                    .try_collect()
                    .await
                    .unwrap_or_default();
                for p in listed {
                    let _ = store.delete(&p).await;
                }
            });
        }
    }
}

/// A DataFusion COPY (Parquet, CSV, JSON, Arrow) redirected to a staging location.
pub struct StagedCopy {
    pub plan: CopyTo,
    pub staging: Staging,
    single_file: bool,
}

impl StagedCopy {
    /// Rewrites `copy` to write beside its destination. DataFusion decides between one file
    /// and a directory of files from the destination URL, so that decision is taken here from
    /// the original URL and passed on explicitly (`single_file_output`).
    pub fn new(ctx: &SessionContext, copy: &CopyTo) -> Result<StagedCopy> {
        let target = Target::resolve(ctx, &copy.output_url)?;
        let single_file = match copy.options.get(SINGLE_FILE_OUTPUT).map(|v| v.trim()) {
            Some("true") => true,
            Some("false") => false,
            // Anything else is DataFusion's to reject when it plans the write.
            Some(_) => false,
            None => {
                copy.partition_by.is_empty()
                    && !target.url.is_collection()
                    && target.url.file_extension().is_some()
            }
        };
        let staging = Staging::beside(&target)?;
        let mut options = copy.options.clone();
        options
            .entry(SINGLE_FILE_OUTPUT.to_string())
            .or_insert_with(|| single_file.to_string());
        let plan = CopyTo {
            output_url: staging.staged_url(!single_file),
            options,
            ..copy.clone()
        };
        Ok(StagedCopy {
            plan,
            staging,
            single_file,
        })
    }

    /// Call once the statement has succeeded.
    pub async fn commit(self) -> Result<()> {
        if self.single_file {
            self.staging.commit_file().await
        } else {
            self.staging.commit_dir().await
        }
    }
}

const SINGLE_FILE_OUTPUT: &str = "single_file_output";
