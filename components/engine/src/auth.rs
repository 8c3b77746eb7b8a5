//! SQL logins: a cleartext password checked against the argon2 hashes of the cluster's users
//! (the cluster file's [[users]], then the designer's as they arrive through the change log).
//! pgwire's own cleartext handler compares stored plain passwords, which the engine never
//! has; this one verifies the hash, off the async threads (argon2 is deliberately slow).
//! The parameters announced at start-up (`server_version` among them) are the ones SHOW gives.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{DefaultServerParameterProvider, LoginInfo, StartupHandler, finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::engine::Engine;
use crate::settings::SERVER_VERSION;

pub struct PasswordLogin {
    engine: Arc<Engine>,
    parameters: DefaultServerParameterProvider,
    pids: RandomPidSecretKeyGenerator,
}

impl PasswordLogin {
    pub fn new(engine: Arc<Engine>) -> PasswordLogin {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = SERVER_VERSION.to_string();
        parameters.is_superuser = false;
        parameters.time_zone = "UTC".into();
        parameters.date_style = "ISO, MDY".into();
        parameters.search_path = "\"$user\", public".into();
        PasswordLogin { engine, parameters, pids: RandomPidSecretKeyGenerator::default() }
    }

    /// Whether `password` is `user`'s.
    async fn verify(&self, user: &str, password: String) -> bool {
        let Some(hash) = self.engine.users.read().unwrap().get(user).cloned() else { return false };
        verify_hash(hash, password).await
    }
}

/// Whether `password` matches the argon2 `hash` (on a blocking thread: argon2 is slow on
/// purpose). SQL logins and the HTTP API (`http_auth`) check passwords with this one function.
pub async fn verify_hash(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

#[async_trait]
impl StartupHandler for PasswordLogin {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                // With [tls], passwords travel only inside TLS.
                if self.engine.cluster.file().tls.is_some() && !client.is_secure() {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28000".into(),
                        "this engine accepts SQL connections only over TLS ([tls] in the cluster file): connect with sslmode=verify-full (or require)".into(),
                    ))));
                }
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = LoginInfo::from_client_info(client).user().unwrap_or_default().to_owned();
                if !self.verify(&user, pwd.password).await {
                    return Err(PgWireError::InvalidPassword(user));
                }
                let (pid, secret) = self.pids.generate(client);
                client.set_pid_and_secret_key(pid, secret);
                finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
