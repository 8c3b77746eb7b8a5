//! triad-designer: the Design Center (docs/designer.md).
//!
//! `active` (active/passive by a coordinator lease), `db` (state in the cluster database),
//! `editor` (model edits), `roles` (rights), `auth` (passwords,
//! sessions), `html` (page templates), `web` (routes: pages and API), `openapi` (the API document,
//! generated from the API's routes).

pub mod active;
pub mod auth;
pub mod db;
pub mod editor;
pub mod html;
pub mod openapi;
pub mod roles;
pub mod web;
