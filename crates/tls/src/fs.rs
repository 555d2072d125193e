//! Files only their owner may read (keys, the CA, ACME state), written atomically, and the
//! private directories they live in.

use std::path::Path;

use crate::TlsError;

/// Create `dir` (and parents) and make it private to the owner. A directory that is
/// already private (no group or other access) is left as it is, so one we may not chmod
/// (owned by root, a read-only mount, systemd's `StateDirectory=`) is not an error.
pub fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| TlsError::Io {
        path: dir.into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Write a file readable by its owner only (keys, and everything else under the state dir),
/// atomically: into a temporary file of its own name (`.<name>.<pid>.<n>.tmp`, created
/// exclusively, so two writers or two files never share one), then renamed into place.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let io = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}
