//! The rustls client configuration shared by the REST client and the WebSocket: public
//! roots plus an optional extra CA, or (only with `dangerouslyAllowInsecure`) no checks.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{ConfigError, RocketChatConfig};

/// Builds the TLS client config from the account config. ALPN is left empty (HTTP/1.1 for
/// both REST and WebSocket).
pub(crate) fn client_config(config: &RocketChatConfig) -> Result<Arc<ClientConfig>, ConfigError> {
    tls_client_config(config.dangerously_allow_insecure, config.ca_file.as_deref())
}

/// The one place that decides how a Rocket.Chat server's certificate is checked: the
/// public (webpki) roots plus the PEM certificates in `ca_file`, or, only when
/// `dangerously_allow_insecure`, no verification at all. The bridge's `doctor`, the
/// provisioning tool and the live test peer use it too, so they trust exactly what the
/// channel trusts.
pub fn tls_client_config(
    dangerously_allow_insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError {
            field: "serverUrl",
            problem: format!("TLS setup failed: {e}"),
        })?;
    let tls = if dangerously_allow_insecure {
        tracing::warn!("dangerouslyAllowInsecure: server certificates are NOT verified");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            add_ca_file(&mut roots, path)?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(tls))
}

fn add_ca_file(roots: &mut RootCertStore, path: &std::path::Path) -> Result<(), ConfigError> {
    let bad = |problem: String| ConfigError {
        field: "caFile",
        problem,
    };
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let mut added = 0;
    for cert in iter {
        let cert = cert.map_err(|e| bad(format!("{}: not PEM: {e}", path.display())))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("{}: unusable certificate: {e}", path.display())))?;
        added += 1;
    }
    if added == 0 {
        return Err(bad(format!("{} holds no certificate", path.display())));
    }
    Ok(())
}

/// Accepts any certificate. Only ever installed with `dangerouslyAllowInsecure`; signatures
/// are still checked so the handshake itself stays well-formed.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config_with_ca(contents: &str) -> (RocketChatConfig, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "rc-tls-unit-{}-{}.pem",
            std::process::id(),
            contents.len()
        ));
        std::fs::write(&path, contents).unwrap();
        let mut c = RocketChatConfig::new("https://h", "u", "b", Secret::new("t"));
        c.ca_file = Some(path.clone());
        (c, path)
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_naming_the_field() {
        let (config, path) = config_with_ca("not a certificate\n");
        let err = client_config(&config).unwrap_err();
        assert_eq!(err.field, "caFile");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_insecure_flag_installs_no_alpn_and_builds() {
        let mut c = RocketChatConfig::new("http://h", "u", "b", Secret::new("t"));
        c.dangerously_allow_insecure = true;
        let tls = client_config(&c).unwrap();
        assert!(tls.alpn_protocols.is_empty());
    }
}
