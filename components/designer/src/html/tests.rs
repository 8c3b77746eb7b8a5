//! What the pages show of stored values is text, never markup: names come from users (a
//! model created through the API, a user in the cluster file) and reach other users' browsers.

use triad_changelog::model::{Cube, Dimension, Model};
use triad_config::UserRole;

use super::*;
use crate::db::{ModelSummary, Version};

const HOSTILE: &str = "<script>alert(1)</script>\"'&";
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";

fn hostile_user() -> User {
    User { name: HOSTILE.into(), role: UserRole::Admin, profile: Some(HOSTILE.into()), password_hash: String::new() }
}

/// `page` shows the hostile value only escaped: no script element, no attribute broken out of.
fn assert_escaped(page: &str) {
    assert!(!page.contains("<script>alert"), "unescaped value in:\n{page}");
    assert!(!page.contains("\"'&\""), "an attribute value ends early in:\n{page}");
    assert!(page.contains(ESCAPED), "the value is not shown (escaped) in:\n{page}");
}

#[test]
fn hostile_names_are_escaped_in_every_page() {
    let me = hostile_user();
    let summary = ModelSummary { name: HOSTILE.into(), latest_version: 2, published_version: Some(1) };
    let home = home(&me, std::slice::from_ref(&summary), &[FieldError { field: "name".into(), message: HOSTILE.into() }], Some(HOSTILE), Some(HOSTILE));
    assert_escaped(&home.into_string());
    // In the delete form's action attribute and as a profile <option>.
    assert_escaped(&users(&me, std::slice::from_ref(&me), &[HOSTILE.into()], &[], None, None).into_string());
    assert_escaped(&cluster(&me, HOSTILE, &[(HOSTILE.into(), HOSTILE.into(), Some(200))], HOSTILE).into_string());
    assert_escaped(&passive(HOSTILE, Some(HOSTILE)).into_string());
    assert_escaped(&login(Some(HOSTILE)).into_string());

    let cube = Cube { name: HOSTILE.into(), local_only: false, dimensions: vec![Dimension { name: HOSTILE.into(), members: Some(vec![HOSTILE.into()]), levels: vec![] }], measures: vec![] };
    let m = Model { name: HOSTILE.into(), cubes: vec![cube] };
    let versions = [Version { version: 1, saved_by: HOSTILE.into(), saved_at: HOSTILE.into(), body: serde_json::Value::Null }];
    let page = model(&ModelPage { user: &me, summary: &summary, model: &m, published: Some(&m), versions: &versions, problems: &[], failed_form: "", errors: &[], message: None, error: None });
    let page = page.into_string();
    assert_escaped(&page);
    // The upload script is the crate's own: the only <script> element on the page.
    assert_eq!(page.matches("<script").count(), 1);
}

#[test]
fn field_errors_appear_next_to_their_field_only() {
    let e = [FieldError { field: "name".into(), message: "<bad>".into() }];
    assert_eq!(field_error(&e, "name").into_string(), "<span class=\"err\" id=\"err-name\">&lt;bad&gt;</span>");
    assert_eq!(field_error(&e, "type").into_string(), "");
}
