//! The state file: the last tick each entry handled, on a volume.
//!
//! Written atomically: a temp file in the same directory, fsync, rename
//! over the old file, fsync of the directory. So a crash leaves the old
//! state or the new one, never a torn file. A missing file is a fresh
//! start (nothing in the past fires); a corrupt one is logged, moved aside
//! as `<file>.corrupt-<ms>` and rebuilt, so a bad file never causes a crash
//! loop.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

/// What the file holds for one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryState {
    /// The latest tick handled (fired, or skipped by the catch-up policy),
    /// Unix ms.
    pub last_tick_ms: i64,
    /// When that was recorded, Unix ms.
    pub recorded_at_ms: i64,
    /// When the job of the entry's latest succeeded tick finished, Unix ms
    /// (absent until one has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    version: u32,
    entries: BTreeMap<String, EntryState>,
}

/// How the file was found at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// Read as written.
    Existing,
    /// There was none: a fresh start.
    Missing,
    /// Unreadable; moved aside to this path (or left, if it could not be
    /// moved) and rebuilt.
    Corrupt {
        /// What was wrong.
        reason: String,
        /// Where the bad file went.
        moved_to: Option<PathBuf>,
    },
}

/// The state, in memory and on disk.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    data: Data,
}

impl StateFile {
    /// Reads the file at `path` (see the module docs for missing and
    /// corrupt files).
    pub fn load(path: &Path, now_ms: i64) -> (Self, Loaded) {
        let fresh = |loaded| {
            (
                Self {
                    path: path.to_path_buf(),
                    data: Data {
                        version: VERSION,
                        entries: BTreeMap::new(),
                    },
                },
                loaded,
            )
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fresh(Loaded::Missing),
            Err(e) => {
                return fresh(Self::set_aside(
                    path,
                    format!("cannot read it: {e}"),
                    now_ms,
                ));
            }
        };
        match serde_json::from_slice::<Data>(&text) {
            Ok(data) if data.version == VERSION => (
                Self {
                    path: path.to_path_buf(),
                    data,
                },
                Loaded::Existing,
            ),
            Ok(data) => fresh(Self::set_aside(
                path,
                format!("unknown version {}", data.version),
                now_ms,
            )),
            Err(e) => fresh(Self::set_aside(path, e.to_string(), now_ms)),
        }
    }

    fn set_aside(path: &Path, reason: String, now_ms: i64) -> Loaded {
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".corrupt-{now_ms}"));
        let aside = PathBuf::from(aside);
        let moved_to = std::fs::rename(path, &aside).ok().map(|()| aside);
        Loaded::Corrupt { reason, moved_to }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An entry's state.
    pub fn get(&self, entry: &str) -> Option<EntryState> {
        self.data.entries.get(entry).copied()
    }

    /// Records an entry's latest handled tick (never moves backwards).
    pub fn set(&mut self, entry: &str, tick_ms: i64, now_ms: i64) {
        let e = self
            .data
            .entries
            .entry(entry.to_owned())
            .or_insert(EntryState {
                last_tick_ms: tick_ms,
                recorded_at_ms: now_ms,
                last_success_ms: None,
            });
        if tick_ms >= e.last_tick_ms {
            e.last_tick_ms = tick_ms;
            e.recorded_at_ms = now_ms;
        }
    }

    /// Records that a job of `entry` succeeded at `at_ms` (never moves
    /// backwards); returns whether that changed the state.
    pub fn set_success(&mut self, entry: &str, at_ms: i64) -> bool {
        match self.data.entries.get_mut(entry) {
            Some(e) if e.last_success_ms.is_none_or(|t| at_ms > t) => {
                e.last_success_ms = Some(at_ms);
                true
            }
            _ => false,
        }
    }

    /// Keeps only the entries named; returns the names dropped.
    pub fn retain(&mut self, names: &[&str]) -> Vec<String> {
        let dropped: Vec<String> = self
            .data
            .entries
            .keys()
            .filter(|k| !names.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in &dropped {
            self.data.entries.remove(k);
        }
        dropped
    }

    /// Every entry's state.
    pub fn entries(&self) -> &BTreeMap<String, EntryState> {
        &self.data.entries
    }

    /// Writes the file atomically (see the module docs).
    pub fn save(&self) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let text = serde_json::to_vec_pretty(&self.data).map_err(std::io::Error::other)?;
        tmp.write_all(&text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn state_survives_a_save_and_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let (mut s, loaded) = StateFile::load(&path, 1);
        assert_eq!(loaded, Loaded::Missing);
        s.set("a", 100, 5);
        s.set("a", 50, 6); // never backwards
        s.set("b", 7, 6);
        s.save().unwrap();
        let (s, loaded) = StateFile::load(&path, 2);
        assert_eq!(loaded, Loaded::Existing);
        assert_eq!(s.get("a").map(|e| e.last_tick_ms), Some(100));
        assert_eq!(s.get("b").map(|e| e.last_tick_ms), Some(7));
        // Only the state file is left: no temp files behind.
        let files: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{\"version\": 1, \"entries\": {\"a\": ").unwrap();
        let (s, loaded) = StateFile::load(&path, 42);
        assert!(s.entries().is_empty());
        let Loaded::Corrupt { moved_to, .. } = loaded else {
            panic!("{loaded:?}")
        };
        let aside = moved_to.unwrap();
        assert_eq!(aside, dir.path().join("state.json.corrupt-42"));
        assert!(aside.exists() && !path.exists());
        s.save().unwrap();
        assert_eq!(StateFile::load(&path, 43).1, Loaded::Existing);
    }
}
