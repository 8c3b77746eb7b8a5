//! A member's identity on disk: its member id and cluster id. Its presence means "this data
//! directory belongs to a cluster"; it is written last when a member bootstraps or joins, so a
//! crash half-way leaves a directory that is treated as empty.

use std::fs;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub member_id: u64,
    pub cluster_id: u64,
}

const FILE: &str = "member";

impl Identity {
    pub fn load(dir: &Path) -> anyhow::Result<Option<Identity>> {
        let path = dir.join(FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
        };
        let mut member_id = None;
        let mut cluster_id = None;
        for line in text.lines() {
            let (k, v) = line.split_once('=').ok_or_else(|| anyhow::anyhow!("{}: malformed line {line:?}", path.display()))?;
            let v = u64::from_str_radix(v.trim(), 16).map_err(|e| anyhow::anyhow!("{}: {k}: {e}", path.display()))?;
            match k.trim() {
                "member_id" => member_id = Some(v),
                "cluster_id" => cluster_id = Some(v),
                other => anyhow::bail!("{}: unknown key {other:?}", path.display()),
            }
        }
        match (member_id, cluster_id) {
            (Some(member_id), Some(cluster_id)) => Ok(Some(Identity { member_id, cluster_id })),
            _ => anyhow::bail!("{}: needs member_id and cluster_id", path.display()),
        }
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = format!("member_id={:x}\ncluster_id={:x}\n", self.member_id, self.cluster_id);
        crate::storage::write_atomically(&dir.join(FILE), text.as_bytes())
    }
}

/// Clears a data directory that has no identity (left by a crash during bootstrap or join).
pub fn clear_partial(dir: &Path) -> std::io::Result<()> {
    for name in ["raft", "snapshot", "snapshot.tmp"] {
        let p = dir.join(name);
        if p.is_dir() {
            fs::remove_dir_all(&p)?;
        } else if p.exists() {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_malformed_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Identity::load(d.path()).unwrap(), None);
        let id = Identity { member_id: 0xabc, cluster_id: 7 };
        id.save(d.path()).unwrap();
        assert_eq!(Identity::load(d.path()).unwrap(), Some(id));
        fs::write(d.path().join(FILE), "member_id=zz\n").unwrap();
        let err = Identity::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("member_id"), "{err}");
    }
}
