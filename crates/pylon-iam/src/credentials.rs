//! The access keys Pylon knows: each one's secret and the principal it stands for. There is no
//! IAM here, so a key is taken at its word: a request it signs validly comes from its principal.

use crate::request::Principal;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// One access key. Its secret is never printed: `Debug` shows the key id and the principal.
pub struct Credential {
    pub access_key_id: String,
    secret_access_key: String,
    pub principal: Principal,
    /// The SigV4A public key derived from the secret, made on first use (a P-256 scalar
    /// multiplication).
    v4a: OnceLock<Option<p256::ecdsa::VerifyingKey>>,
}

impl Credential {
    pub fn new(access_key_id: &str, secret_access_key: &str, principal: Principal) -> Self {
        Credential {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            principal,
            v4a: OnceLock::new(),
        }
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret_access_key
    }

    /// SigV4A's key pair is derived from the access key id and the secret (an HMAC-based KDF
    /// as the SDKs derive it); the public half verifies signatures.
    pub(crate) fn v4a_key(&self) -> Option<&p256::ecdsa::VerifyingKey> {
        self.v4a
            .get_or_init(|| {
                let scalar = aws_sigv4::sign::v4a::generate_signing_key(
                    &self.access_key_id,
                    &self.secret_access_key,
                );
                p256::ecdsa::SigningKey::from_slice(scalar.as_ref())
                    .ok()
                    .map(|k| *k.verifying_key())
            })
            .as_ref()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal.arn)
            .finish_non_exhaustive()
    }
}

/// The known access keys, by key id.
#[derive(Debug, Default)]
pub struct Keyring {
    by_id: HashMap<String, Credential>,
}

impl Keyring {
    /// Adds a key; a key id already known keeps its first credential (`false`).
    pub fn insert(&mut self, credential: Credential) -> bool {
        if self.by_id.contains_key(&credential.access_key_id) {
            return false;
        }
        self.by_id
            .insert(credential.access_key_id.clone(), credential);
        true
    }

    pub fn get(&self, access_key_id: &str) -> Option<&Credential> {
        self.by_id.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
