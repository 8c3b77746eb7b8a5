//! Who may do what: admin (everything), modeler (models, publishing, data loads), viewer
//! (reading only). One table, checked by every handler before it touches anything.

use triad_config::UserRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    EditModel,
    Publish,
    LoadData,
    ManageUsers,
}

pub fn allowed(role: UserRole, action: Action) -> bool {
    match role {
        UserRole::Admin => true,
        UserRole::Modeler => action != Action::ManageUsers,
        UserRole::Viewer => action == Action::Read,
    }
}

/// The refusal a user sees: names the action and the role that lacks it.
pub fn refusal(role: UserRole, action: Action) -> String {
    let what = match action {
        Action::Read => "read the Design Center",
        Action::EditModel => "edit models",
        Action::Publish => "publish models",
        Action::LoadData => "load data",
        Action::ManageUsers => "manage users",
    };
    format!("the role {} may not {what}", role_name(role))
}

pub fn role_name(role: UserRole) -> &'static str {
    match role {
        UserRole::Admin => "admin",
        UserRole::Modeler => "modeler",
        UserRole::Viewer => "viewer",
    }
}

pub fn parse_role(s: &str) -> Option<UserRole> {
    match s {
        "admin" => Some(UserRole::Admin),
        "modeler" => Some(UserRole::Modeler),
        "viewer" => Some(UserRole::Viewer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_exactly_its_rights() {
        use Action::*;
        let all = [Read, EditModel, Publish, LoadData, ManageUsers];
        let rights = |r| all.iter().filter(|a| allowed(r, **a)).copied().collect::<Vec<_>>();
        assert_eq!(rights(UserRole::Admin), all);
        assert_eq!(rights(UserRole::Modeler), [Read, EditModel, Publish, LoadData]);
        assert_eq!(rights(UserRole::Viewer), [Read]);
        assert_eq!(refusal(UserRole::Viewer, Publish), "the role viewer may not publish models");
        for r in ["admin", "modeler", "viewer"] {
            assert_eq!(role_name(parse_role(r).unwrap()), r);
        }
        assert_eq!(parse_role("root"), None);
    }
}
