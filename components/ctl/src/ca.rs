//! The cluster's certificate authority (issue 19): one CA per cluster, one certificate per
//! host naming its FQDN, short name and address, used both to serve and to prove who it is
//! to its peers (mutual TLS). Generation only; where the files go is `cmd::certs`'s concern.

use std::net::IpAddr;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, both PEM.
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// Who a host certificate names: what peers and clients will check it against.
pub struct Identity {
    /// The host's short name (the member name); also a DNS name, as /etc/hosts lists it.
    pub name: String,
    pub fqdn: String,
    pub address: IpAddr,
    /// Other names and addresses clients reach this host by: for an app host, the balancers
    /// that pass SQL through to it, so `sslmode=verify-full` holds through them.
    pub via_names: Vec<String>,
    pub via_addresses: Vec<IpAddr>,
}

/// A new CA for cluster `cluster`, valid from `now` for `days`. Its certificates may sign
/// only end-entity certificates (path length 0).
pub fn new_ca(cluster: &str, now: OffsetDateTime, days: i64) -> Result<Pem> {
    let key = KeyPair::generate().context("generating the CA's key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, format!("Triad cluster {cluster} CA"));
    params.distinguished_name.push(DnType::OrganizationName, "Triad");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params, now, days);
    let cert = params.self_signed(&key).context("signing the CA's certificate")?;
    Ok(Pem { cert: cert.pem(), key: key.serialize_pem() })
}

/// A certificate for `host`, signed by the CA (`ca`), valid from `now` for `days` (a
/// negative `days` makes one that has already expired, for tests of refusal).
pub fn issue(ca: &Pem, host: &Identity, now: OffsetDateTime, days: i64) -> Result<Pem> {
    let ca_key = KeyPair::from_pem(&ca.key).context("reading the CA's key")?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).context("reading the CA's certificate")?;
    let key = KeyPair::generate().context("generating the host's key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, host.fqdn.clone());
    params.subject_alt_names = vec![
        SanType::DnsName(host.fqdn.clone().try_into().with_context(|| format!("{:?} is not a DNS name", host.fqdn))?),
        SanType::DnsName(host.name.clone().try_into().with_context(|| format!("{:?} is not a DNS name", host.name))?),
        SanType::IpAddress(host.address),
    ];
    for name in &host.via_names {
        params.subject_alt_names.push(SanType::DnsName(name.clone().try_into().with_context(|| format!("{name:?} is not a DNS name"))?));
    }
    params.subject_alt_names.extend(host.via_addresses.iter().map(|a| SanType::IpAddress(*a)));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    // The same certificate serves (its daemons' ports) and identifies the host to its peers.
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, now, days);
    let cert = params.signed_by(&key, &issuer).with_context(|| format!("signing {}'s certificate", host.name))?;
    Ok(Pem { cert: cert.pem(), key: key.serialize_pem() })
}

/// Valid from an hour before `now` (clocks of a cluster differ a little) for `days`; with
/// negative `days`, for the one day before it expired.
fn validity(params: &mut CertificateParams, now: OffsetDateTime, days: i64) {
    params.not_after = now + Duration::days(days);
    params.not_before = (now - Duration::hours(1)).min(params.not_after - Duration::days(1));
}
