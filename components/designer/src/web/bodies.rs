//! The JSON request bodies of the API, as the OpenAPI document shows them.
//!
//! The handlers read these fields from the JSON value themselves (so that a missing or
//! mistyped field is answered like any other invalid field: 422 with `fields` naming it), so
//! these types exist for the document only and are never built.
#![allow(dead_code)]

use utoipa::ToSchema;

use crate::editor::Edit;

#[derive(ToSchema)]
pub struct NewModel {
    /// Letters, digits and _, not starting with a digit, at most 63.
    name: String,
}

#[derive(ToSchema)]
pub struct ModelEdit {
    /// The version the edit applies to: an edit of an older version is refused (409), not merged.
    base: i64,
    edit: Edit,
}

#[derive(ToSchema)]
pub struct Publish {
    /// The version to publish; an older one than the published version rolls back to it.
    version: i64,
}

#[derive(ToSchema)]
pub struct NewUser {
    name: String,
    #[schema(min_length = 8)]
    password: String,
    #[schema(inline)]
    role: Role,
    /// A profile of the cluster file's `[profiles]`; none: the default.
    profile: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum Role {
    Admin,
    Modeler,
    Viewer,
}
