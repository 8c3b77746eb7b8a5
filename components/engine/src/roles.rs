//! `pg_roles` from the cluster's users: psql's `\du` and tools that list roles see the users
//! who can log in to the engine (the cluster file's `[[users]]` and the designer's), as
//! PostgreSQL lists login roles without special attributes. datafusion-pg-catalog builds the
//! rows from a `PgCatalogContextProvider`; this one holds the current user names, refreshed
//! before each query (`Sessions::set_users`).

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role};

#[derive(Debug, Clone, Default)]
pub struct Users(Arc<RwLock<Vec<String>>>);

impl Users {
    pub fn set(&self, mut names: Vec<String>) {
        names.sort();
        let mut current = self.0.write().unwrap();
        if *current != names {
            *current = names;
        }
    }
}

#[async_trait]
impl PgCatalogContextProvider for Users {
    async fn roles(&self) -> Vec<String> {
        self.0.read().unwrap().clone()
    }

    /// Some for every name: datafusion-pg-catalog unwraps it for each name `roles` gave, and
    /// the users may change between the two calls.
    async fn role(&self, name: &str) -> Option<Role> {
        Some(Role {
            name: name.to_string(),
            is_superuser: false,
            can_login: true,
            can_create_db: false,
            can_create_role: false,
            can_create_user: false,
            can_replication: false,
            grants: vec![],
            inherited_roles: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn pg_roles_lists_the_users_as_login_roles() {
        let sessions = crate::catalog::Sessions::new().unwrap();
        sessions.set_users(vec!["analyst".into(), "admin".into()]);
        let ctx = sessions.session(vec![], vec![], crate::catalog::test_pool()).unwrap();
        let batches = ctx.sql("SELECT rolname, rolsuper, rolcanlogin FROM pg_catalog.pg_roles ORDER BY 1").await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("| admin   | false    | true        |") && text.contains("| analyst | false    | true        |"), "{text}");
    }
}
