//! TLS for a daemon's port (`[tls]` in the cluster file, docs/security.md): the host's
//! certificate and key, read again whenever either file changes, so a renewed certificate
//! (`triadctl certs issue --renew`) is served to new connections without a restart. The
//! engines' SQL port uses it alone; the coordinator's client port also asks every client for
//! a certificate of the cluster CA (mutual TLS).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// Whom a port takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clients {
    /// Anyone; clients prove themselves otherwise (the SQL port's passwords).
    Anyone,
    /// Only clients showing a certificate of the cluster CA, valid now.
    OfTheClusterCa,
}

/// The TLS settings of `port` (words for the log) on `host`.
pub fn server_config(tls: &triad_config::Tls, host: &str, port: &'static str, clients: Clients) -> Result<ServerConfig> {
    let files = Files { cert: triad_config::Tls::path_for(&tls.cert, host), key: triad_config::Tls::path_for(&tls.key, host) };
    let resolver = Reloading { current: Mutex::new(files.load()?), files, port };
    // ring, as the rest of the workspace (rcgen): aws-lc-rs, rustls's post-quantum provider,
    // needs a C toolchain and CMake in every build. Post-quantum key exchange is left for then.
    #[expect(deprecated, reason = "rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().context("TLS protocol versions")?;
    let builder = match clients {
        Clients::Anyone => builder.with_no_client_auth(),
        Clients::OfTheClusterCa => {
            let mut roots = RootCertStore::empty();
            let ca = CertificateDer::pem_file_iter(&tls.ca)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| anyhow!("reading the cluster CA's certificate {}: {e}", tls.ca))?;
            for cert in ca {
                roots.add(cert).with_context(|| format!("{} is not a CA certificate TLS can use", tls.ca))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().context("the client certificate check")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_cert_resolver(Arc::new(resolver)))
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
}

/// A loaded certificate and the modification times of the files it came from.
struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
}

impl Files {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let m = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (m(&self.cert), m(&self.key))
    }

    fn load(&self) -> Result<Loaded> {
        let stamps = self.stamps();
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| anyhow!("reading the certificate {}: {e}", self.cert.display()))?;
        if chain.is_empty() {
            return Err(anyhow!("{} holds no certificate", self.cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| anyhow!("reading the key {}: {e}", self.key.display()))?;
        let signing = rustls::crypto::ring::sign::any_supported_type(&key).with_context(|| format!("the key {} is not one TLS can use", self.key.display()))?;
        let key = CertifiedKey::new(chain, signing);
        key.keys_match().with_context(|| format!("{} is not the key of {}", self.key.display(), self.cert.display()))?;
        Ok(Loaded { key: Arc::new(key), stamps })
    }
}

/// Serves the loaded certificate; when the files changed, loads them first. A file caught
/// half-written, or a key that does not match, keeps the old certificate (and says so).
struct Reloading {
    files: Files,
    current: Mutex<Loaded>,
    port: &'static str,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut current = self.current.lock().unwrap();
        if self.files.stamps() != current.stamps {
            match self.files.load() {
                Ok(loaded) => {
                    tracing::info!(cert = %self.files.cert.display(), "serving a renewed certificate on the {}", self.port);
                    *current = loaded;
                }
                Err(e) => {
                    tracing::warn!("keeping the certificate in use: {e:#}");
                    // Not again for every connection: the next change of the files retries.
                    current.stamps = self.files.stamps();
                }
            }
        }
        Some(current.key.clone())
    }
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reloading({})", self.files.cert.display())
    }
}
