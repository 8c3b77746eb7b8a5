//! Who may write cells over SQL. The engines used to check a login's password only, so a
//! `viewer` could write cells as freely as a modeler (issue 19). A user's role now reaches the
//! engines with its password: from `[[users]]` in the cluster file, and from the designer
//! through the change log.

use std::collections::HashMap;

use triad_config::UserRole;

/// The rule: `user` with `role` (`None`: the engine was never told, as for users a designer
/// of an earlier release created) may make a change (`change`: "writing cells", "publishing a
/// model", for the refusal's words), or the refusal's words.
pub fn may_change(user: &str, role: Option<UserRole>, change: &str) -> Result<(), String> {
    match role {
        Some(UserRole::Admin | UserRole::Modeler) => Ok(()),
        Some(UserRole::Viewer) => Err(format!("permission denied: user {user:?} is a viewer; {change} takes the modeler or admin role")),
        None => Err(format!(
            "permission denied: the engines do not know the role of user {user:?} (created before roles reached them): create the user again in the designer, or list it in [[users]]"
        )),
    }
}

/// The roles after a snapshot is loaded: the snapshot's, over the cluster file's (a snapshot
/// of an earlier release holds none, and the cluster file's users must keep theirs).
pub fn after_snapshot(cluster_file: &HashMap<String, UserRole>, snapshot: HashMap<String, UserRole>) -> HashMap<String, UserRole> {
    let mut roles = cluster_file.clone();
    roles.extend(snapshot);
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_modelers_and_admins_write() {
        for (role, writes, words) in [
            (Some(UserRole::Admin), true, ""),
            (Some(UserRole::Modeler), true, ""),
            (Some(UserRole::Viewer), false, "is a viewer"),
            (None, false, "do not know the role"),
        ] {
            let got = may_change("ann", role, "writing cells");
            assert_eq!(got.is_ok(), writes, "{role:?}");
            assert!(got.err().unwrap_or_default().contains(words), "{role:?}");
        }
    }

    #[test]
    fn a_snapshot_without_roles_keeps_the_cluster_files() {
        let file = HashMap::from([("ann".to_string(), UserRole::Modeler), ("vic".to_string(), UserRole::Viewer)]);
        assert_eq!(after_snapshot(&file, HashMap::new()), file);
        let snap = HashMap::from([("vic".to_string(), UserRole::Admin), ("dee".to_string(), UserRole::Viewer)]);
        let got = after_snapshot(&file, snap);
        assert_eq!((got["ann"], got["vic"], got["dee"]), (UserRole::Modeler, UserRole::Admin, UserRole::Viewer));
    }
}
