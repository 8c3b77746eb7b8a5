//! Library half of triadctl: logic that is tested directly and shared with other tools.

pub mod ca;
pub mod haproxy;
