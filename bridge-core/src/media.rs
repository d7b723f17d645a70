//! Files on disk: the directory downloaded attachments go to (`mediaDir`), writing one
//! attachment there, and reading a file for `sendFile`.
//!
//! Downloads are private to the bot's user: the directory is `0700` and every file `0600`
//! (attachments come from private rooms and DMs). A file name is a random prefix plus the
//! uploaded name made safe, so two `report.pdf` never collide and no name can climb out
//! of the directory.
//!
//! File system calls run on tokio's blocking pool: `serve` runs on one thread, and a slow
//! disk must not stall the event loop.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::config::{ConfigError, MediaConfig};

/// Longest kept part of an uploaded file name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// The download directory of one bridge run. A directory the bridge created itself (no
/// `mediaDir`) is removed, with everything in it, when this is dropped.
#[derive(Debug)]
pub struct MediaDir {
    path: PathBuf,
    temporary: bool,
}

impl MediaDir {
    /// Opens the configured directory (created `0700` if missing) or creates a fresh
    /// `0700` one under the system temp dir. Errors name `mediaDir`.
    pub fn open(config: &MediaConfig) -> Result<Self, ConfigError> {
        match &config.dir {
            Some(dir) => {
                let bad = |reason: String| ConfigError::new("mediaDir", reason);
                if !dir.exists() {
                    private_dir_builder(true)
                        .create(dir)
                        .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
                } else if !dir.is_dir() {
                    return Err(bad(format!("{} is not a directory", dir.display())));
                }
                Ok(Self {
                    path: dir.clone(),
                    temporary: false,
                })
            }
            None => Self::fresh(&std::env::temp_dir()),
        }
    }

    /// A new `0700` directory with a random name under `parent`.
    fn fresh(parent: &Path) -> Result<Self, ConfigError> {
        let mut last_error = None;
        // A name clash is the only expected failure; a few tries get past it.
        for _ in 0..8 {
            let path = parent.join(format!(
                "openclaw-rocketchat-{}-{}",
                std::process::id(),
                random_hex()
            ));
            match private_dir_builder(false).create(&path) {
                Ok(()) => {
                    return Ok(Self {
                        path,
                        temporary: true,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => {
                    last_error = Some(e);
                    break;
                }
            }
        }
        Err(ConfigError::new(
            "mediaDir",
            format!(
                "cannot create a directory under {}: {}",
                parent.display(),
                last_error.map(|e| e.to_string()).unwrap_or_default()
            ),
        ))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the directory is removed when this is dropped.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        if self.temporary {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                tracing::warn!(dir = %self.path.display(), error = %e, "could not remove the media directory");
            }
        }
    }
}

fn private_dir_builder(recursive: bool) -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
}

fn random_hex() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

/// `name` made safe as the end of a file name: letters, digits, `.`, `-` and `_` kept,
/// anything else `_`, no leading dot, at most [`MAX_NAME_CHARS`]; `file` when nothing is
/// left.
pub fn sanitize_name(name: &str) -> String {
    // The last path component only: an uploaded name may carry a client's path.
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = safe.trim_start_matches('.').len();
    safe.drain(..safe.len() - trimmed);
    // Keep the end, where the extension is.
    let chars = safe.chars().count();
    if chars > MAX_NAME_CHARS {
        safe = safe.chars().skip(chars - MAX_NAME_CHARS).collect();
    }
    if safe.trim_matches(['_', '.']).is_empty() {
        "file".to_owned()
    } else {
        safe
    }
}

/// Writes `data` to a new `0600` file in `dir` named `<random>-<safe name>`; returns its
/// path.
/// Removes files nobody will own any more, off the event pump; a failure only leaves a
/// file behind (logged).
pub async fn remove_files(paths: Vec<String>) {
    let removed = blocking(move || {
        for path in &paths {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::debug!(%path, error = %e, "could not remove a download");
            }
        }
        Ok(())
    })
    .await;
    if let Err(e) = removed {
        tracing::debug!(error = %e, "could not remove downloads");
    }
}

pub async fn write_download(dir: &Path, name: &str, data: Vec<u8>) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{}-{}", random_hex(), sanitize_name(name)));
    let target = path.clone();
    blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&target)?;
        let written = file.write_all(&data).and_then(|()| file.sync_data());
        if written.is_err() {
            // A half-written file is no use to anyone.
            let _ = std::fs::remove_file(&target);
        }
        written
    })
    .await?;
    Ok(path)
}

/// Why a file for `sendFile` cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Over the limit (found from the metadata, before reading).
    #[error("{path} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// The file, for the message.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Missing, not a regular file, unreadable.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file, for the message.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Reads the file at `path` if it is a regular file of at most `limit` bytes. The size is
/// checked on the metadata first, so an oversized file is never read.
pub async fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let path = path.to_owned();
    let shown = path.display().to_string();
    let joined = {
        let shown = shown.clone();
        tokio::task::spawn_blocking(move || read_limited_blocking(&path, &shown, limit)).await
    };
    joined.unwrap_or_else(|e| {
        Err(ReadError::Unreadable {
            path: shown,
            reason: e.to_string(),
        })
    })
}

fn read_limited_blocking(path: &Path, shown: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let unreadable = |reason: String| ReadError::Unreadable {
        path: shown.to_owned(),
        reason,
    };
    let too_large = |size: u64| ReadError::TooLarge {
        path: shown.to_owned(),
        size,
        limit,
    };
    // The metadata first, by path: a FIFO or a device would block an open, and an
    // oversized file is refused before anything is read.
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    // The file may grow after the check: never read more than the limit allows.
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| unreadable(e.to_string()))?;
    let read = data.len() as u64;
    if read > limit {
        return Err(too_large(read));
    }
    Ok(data)
}

/// Runs a file system call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// The MIME type of a file name, from its extension; `application/octet-stream` when the
/// extension is unknown.
pub fn guess_mime(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return OCTET_STREAM,
    };
    MIME_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or(OCTET_STREAM, |(_, mime)| mime)
}

const OCTET_STREAM: &str = "application/octet-stream";

/// Common extensions; anything else is `application/octet-stream`.
const MIME_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
    ("bmp", "image/bmp"),
    ("ico", "image/x-icon"),
    ("heic", "image/heic"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("log", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("tsv", "text/tab-separated-values"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("7z", "application/x-7z-compressed"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("m4a", "audio/mp4"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mov", "video/quicktime"),
];

/// A byte count in MiB with one decimal (`31.2`), for people.
pub fn mib_one_decimal(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\Users\\a\\b c.txt"), "b_c.txt");
        assert_eq!(sanitize_name(".hidden"), "hidden");
        assert_eq!(sanitize_name("ünï code.png"), "_n__code.png");
        assert_eq!(sanitize_name(""), "file");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name("/"), "file");
        let long = format!("{}.pdf", "a".repeat(300));
        let safe = sanitize_name(&long);
        assert_eq!(safe.chars().count(), MAX_NAME_CHARS);
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn mime_types_come_from_the_extension() {
        assert_eq!(guess_mime("a.PNG"), "image/png");
        assert_eq!(guess_mime("report.pdf"), "application/pdf");
        assert_eq!(guess_mime("notes.txt"), "text/plain");
        assert_eq!(guess_mime("archive.tar.gz"), "application/gzip");
        assert_eq!(guess_mime("README"), OCTET_STREAM);
        assert_eq!(guess_mime("x.unknownext"), OCTET_STREAM);
    }

    #[test]
    fn sizes_are_shown_in_mib() {
        assert_eq!(mib_one_decimal(31 * 1024 * 1024 + 200 * 1024), "31.2");
        assert_eq!(mib_one_decimal(20 * 1024 * 1024 + 1), "20.0");
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_temporary_dir_is_private_and_removed_on_drop() {
        let dir = MediaDir::open(&MediaConfig::default()).unwrap();
        let path = dir.path().to_owned();
        assert!(dir.is_temporary());
        assert!(path.starts_with(std::env::temp_dir()));
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o700);
        std::fs::write(path.join("left-over"), b"x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_configured_dir_is_created_private_and_kept() {
        let parent = MediaDir::open(&MediaConfig::default()).unwrap();
        let configured = parent.path().join("a").join("media");
        let config = MediaConfig {
            dir: Some(configured.clone()),
            ..MediaConfig::default()
        };
        let dir = MediaDir::open(&config).unwrap();
        assert!(!dir.is_temporary());
        #[cfg(unix)]
        assert_eq!(mode(&configured), 0o700);
        drop(dir);
        assert!(configured.is_dir(), "a configured mediaDir is not removed");
        // Opening an existing directory works; a file in its place does not.
        assert!(MediaDir::open(&config).is_ok());
        let file = parent.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = MediaDir::open(&MediaConfig {
            dir: Some(file),
            ..MediaConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "mediaDir");
    }

    #[tokio::test]
    async fn downloads_are_private_files_with_unique_names() {
        let dir = MediaDir::open(&MediaConfig::default()).unwrap();
        let a = write_download(dir.path(), "../r e.pdf", b"one".to_vec())
            .await
            .unwrap();
        let b = write_download(dir.path(), "../r e.pdf", b"two".to_vec())
            .await
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir.path()));
        assert!(a
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-r_e.pdf"));
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(mode(&a), 0o600);
    }

    #[tokio::test]
    async fn reads_are_limited_by_the_metadata() {
        let dir = MediaDir::open(&MediaConfig::default()).unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![7u8; 100]).unwrap();
        assert_eq!(read_limited(&path, 100).await.unwrap().len(), 100);
        match read_limited(&path, 99).await.unwrap_err() {
            ReadError::TooLarge { size, limit, .. } => assert_eq!((size, limit), (100, 99)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_limited(&dir.path().join("missing"), 100).await,
            Err(ReadError::Unreadable { .. })
        ));
        assert!(matches!(
            read_limited(dir.path(), 100).await,
            Err(ReadError::Unreadable { .. })
        ));
    }
}
