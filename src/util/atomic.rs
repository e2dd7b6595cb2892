//! Outputs are written under a temporary name and renamed into place when complete, so an
//! interrupted or failed run never leaves a half-written file where a finished one is expected.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The temporary sibling used while `path` is being written: `.NAME.partial-PID`.
/// The original extension is kept last so tools that pick formats by extension still work.
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    path.with_file_name(format!(".{stem}.partial-{}{ext}", std::process::id()))
}

/// A file being written under a temporary name. Call [`AtomicFile::commit`] when complete;
/// dropping it without committing removes the temporary file.
pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    committed: bool,
}

impl AtomicFile {
    pub fn new(final_path: impl Into<PathBuf>) -> io::Result<Self> {
        let final_path = final_path.into();
        if let Some(parent) = final_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let temp_path = partial_path(&final_path);
        Ok(Self {
            final_path,
            temp_path,
            committed: false,
        })
    }

    /// Where to write now.
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Renames the finished temporary file to its final name.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        fs::rename(&self.temp_path, &self.final_path)?;
        self.committed = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file = AtomicFile::new(path)?;
    fs::write(file.temp_path(), bytes)?;
    file.commit()?;
    Ok(())
}

/// A directory being filled under a temporary name and renamed into place when complete.
/// An existing directory at the final path is replaced only on commit.
pub struct AtomicDir {
    final_path: PathBuf,
    temp_path: PathBuf,
    committed: bool,
}

impl AtomicDir {
    pub fn new(final_path: impl Into<PathBuf>) -> io::Result<Self> {
        let final_path = final_path.into();
        if let Some(parent) = final_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let temp_path = partial_path(&final_path);
        if temp_path.exists() {
            fs::remove_dir_all(&temp_path)?;
        }
        fs::create_dir_all(&temp_path)?;
        Ok(Self {
            final_path,
            temp_path,
            committed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.temp_path
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    pub fn commit(mut self) -> io::Result<PathBuf> {
        if self.final_path.exists() {
            let old = partial_path(&self.final_path.with_extension("old"));
            fs::rename(&self.final_path, &old)?;
            fs::rename(&self.temp_path, &self.final_path)?;
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(&self.temp_path, &self.final_path)?;
        }
        self.committed = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.mp4");
        {
            let f = AtomicFile::new(&target).expect("new");
            assert!(f.temp_path().to_string_lossy().ends_with(".mp4"));
            fs::write(f.temp_path(), b"half").expect("write");
        }
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).expect("read_dir").count(), 0);
        write_atomic(&target, b"whole").expect("write");
        assert_eq!(fs::read(&target).expect("read"), b"whole");
    }

    #[test]
    fn directory_replaced_only_on_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("recon");
        fs::create_dir_all(&target).expect("mkdir");
        fs::write(target.join("old.txt"), b"old").expect("write");
        {
            let d = AtomicDir::new(&target).expect("new");
            fs::write(d.path().join("new.txt"), b"new").expect("write");
        }
        assert!(target.join("old.txt").exists());
        let d = AtomicDir::new(&target).expect("new");
        fs::write(d.path().join("new.txt"), b"new").expect("write");
        d.commit().expect("commit");
        assert!(target.join("new.txt").exists() && !target.join("old.txt").exists());
    }
}
