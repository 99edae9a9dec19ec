//! Key pair endpoints: the user's own, room rescue and system rescue key pairs, and building a
//! [`KeyRing`] from them.

use std::collections::HashMap;

use http::Method;

use super::Transport;
use super::client::{Call, Client, Event};
use super::distribute::{KeyRing, SkipReason, Skipped, UseKey, par_map};
use super::models::{
    AlgorithmVersionInfoList, CreateKeyPairRequest, EncryptRoomRequest, Lenient, Node,
};
use crate::error::{Error, Result};
use crate::keys::{UserKeyPair, UserKeyPairContainer};
use crate::secret::Password;
use crate::version::UserKeyPairVersion;

/// The most key pairs of one version that [`Client::key_ring`] unlocks (the API keeps at most
/// two per version: the current one and a preserved previous one).
pub const MAX_KEY_PAIRS_PER_VERSION: usize = 4;

fn version_query(path: &str, version: Option<UserKeyPairVersion>) -> String {
    match version {
        Some(v) => format!("{path}?version={}", v.as_str()),
        None => path.to_owned(),
    }
}

/// Whose key pairs a [`KeyRing`] is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    User,
    Room(i64),
    System,
}

impl<T: Transport> Client<T> {
    /// `GET /user/account/keypair[?version=]`: the user's key pair (the server picks when no
    /// version is given).
    pub async fn user_key_pair(
        &self,
        version: Option<UserKeyPairVersion>,
    ) -> Result<UserKeyPairContainer> {
        let path = version_query("/user/account/keypair", version);
        self.call_json(&Call::api(Method::GET, path, "get user key pair"))
            .await
    }

    /// Fetches the user's key pair of `version` ([`Client::user_key_pair`]) and unlocks it
    /// with `password`, through [`Transport::offload`]. Like every container from a server it
    /// may ask for at most 2,000,000 PBKDF2 iterations (local files: 10,000,000): a higher
    /// count is [`Error::LimitExceeded`], refused before any derivation.
    ///
    /// ```
    /// use dracoon_crypto::transport::{Blocking, Bytes, Client, block_on};
    /// use dracoon_crypto::{Password, TransportError, UserKeyPair, UserKeyPairVersion};
    ///
    /// let password = Password::new("Pa55-w0rd");
    /// let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048)?;
    /// let json = pair.to_container(&password)?.to_json();
    /// let server = move |_r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
    ///     Ok(http::Response::new(Bytes::from(json.clone())))
    /// };
    /// let client = Client::new(Blocking(server), "https://dracoon.example")?.with_auth_token("t");
    /// let unlocked = block_on(client.unlock_user_key_pair(None, &password))?;
    /// assert_eq!(unlocked, pair);
    /// # Ok::<(), dracoon_crypto::Error>(())
    /// ```
    pub async fn unlock_user_key_pair(
        &self,
        version: Option<UserKeyPairVersion>,
        password: &Password,
    ) -> Result<UserKeyPair> {
        let container = self.user_key_pair(version).await?;
        let password = password.clone();
        self.offload(move || UserKeyPair::unlock_from_server(&container, &password))
            .await?
    }

    /// `GET /user/account/keypairs`: all the user's key pairs (current and preserved previous
    /// ones). Entries this crate cannot read (unknown versions) are [`Lenient::Invalid`].
    pub async fn user_key_pairs(&self) -> Result<Vec<Lenient<UserKeyPairContainer>>> {
        let call = Call::api(
            Method::GET,
            "/user/account/keypairs".into(),
            "list user key pairs",
        );
        self.call_json(&call).await
    }

    /// The user's key pair for uploads: `RSA-4096` if the user has one, else the server's
    /// choice (`GET /user/account/keypair`).
    pub async fn preferred_user_key_pair(&self) -> Result<UserKeyPairContainer> {
        match self.user_key_pair(Some(UserKeyPairVersion::Rsa4096)).await {
            Ok(kp) => Ok(kp),
            Err(Error::Api {
                status: 400 | 404, ..
            }) => self.user_key_pair(None).await,
            Err(e) => Err(e),
        }
    }

    /// `POST /user/account/keypair`: sets the user's key pair (cannot overwrite one).
    pub async fn set_user_key_pair(&self, key_pair: &UserKeyPairContainer) -> Result<()> {
        let call = Call::api(
            Method::POST,
            "/user/account/keypair".into(),
            "set user key pair",
        )
        .json(key_pair)?;
        self.call_empty(&call).await
    }

    /// `DELETE /user/account/keypair[?version=]` (this also deletes every file key wrapped for
    /// it).
    pub async fn delete_user_key_pair(&self, version: Option<UserKeyPairVersion>) -> Result<()> {
        let path = version_query("/user/account/keypair", version);
        self.call_empty(&Call::api(Method::DELETE, path, "delete user key pair"))
            .await
    }

    /// `GET /nodes/rooms/{room_id}/keypair[?version=]`: the room's rescue key pair.
    pub async fn room_rescue_key_pair(
        &self,
        room_id: i64,
        version: Option<UserKeyPairVersion>,
    ) -> Result<UserKeyPairContainer> {
        let path = version_query(&format!("/nodes/rooms/{room_id}/keypair"), version);
        self.call_json(&Call::api(Method::GET, path, "get room rescue key pair"))
            .await
    }

    /// `GET /nodes/rooms/{room_id}/keypairs`: all the room's rescue key pairs.
    pub async fn room_rescue_key_pairs(
        &self,
        room_id: i64,
    ) -> Result<Vec<Lenient<UserKeyPairContainer>>> {
        let path = format!("/nodes/rooms/{room_id}/keypairs");
        let resp = self
            .execute(&Call::api(Method::GET, path, "list room rescue key pairs"))
            .await?;
        if resp.body().is_empty() {
            return Ok(Vec::new()); // 204
        }
        serde_json::from_slice(resp.body())
            .map_err(|_| super::client::invalid("list room rescue key pairs", "malformed answer"))
    }

    /// `POST /nodes/rooms/{room_id}/keypair`: sets the room's rescue key pair.
    pub async fn set_room_rescue_key_pair(
        &self,
        room_id: i64,
        key_pair: &UserKeyPairContainer,
    ) -> Result<()> {
        let path = format!("/nodes/rooms/{room_id}/keypair");
        let call = Call::api(Method::POST, path, "set room rescue key pair").json(key_pair)?;
        self.call_empty(&call).await
    }

    /// `DELETE /nodes/rooms/{room_id}/keypair[?version=]`.
    pub async fn delete_room_rescue_key_pair(
        &self,
        room_id: i64,
        version: Option<UserKeyPairVersion>,
    ) -> Result<()> {
        let path = version_query(&format!("/nodes/rooms/{room_id}/keypair"), version);
        self.call_empty(&Call::api(
            Method::DELETE,
            path,
            "delete room rescue key pair",
        ))
        .await
    }

    /// `PUT /nodes/rooms/{room_id}/encrypt`: turns on client-side encryption for an empty
    /// room, optionally with a room rescue key pair.
    pub async fn encrypt_room(&self, room_id: i64, request: &EncryptRoomRequest) -> Result<Node> {
        let path = format!("/nodes/rooms/{room_id}/encrypt");
        let call = Call::api(Method::PUT, path, "encrypt room").json(request)?;
        self.call_json(&call).await
    }

    /// `GET /settings/keypair[?version=]`: the system rescue key pair.
    pub async fn system_rescue_key_pair(
        &self,
        version: Option<UserKeyPairVersion>,
    ) -> Result<UserKeyPairContainer> {
        let path = version_query("/settings/keypair", version);
        self.call_json(&Call::api(Method::GET, path, "get system rescue key pair"))
            .await
    }

    /// `GET /settings/keypairs`: all system rescue key pairs.
    pub async fn system_rescue_key_pairs(&self) -> Result<Vec<Lenient<UserKeyPairContainer>>> {
        let call = Call::api(
            Method::GET,
            "/settings/keypairs".into(),
            "list system rescue key pairs",
        );
        self.call_json(&call).await
    }

    /// `POST /settings/keypair`: sets the system rescue key pair (and thereby enables
    /// client-side encryption for the customer; it cannot be unset).
    pub async fn set_system_rescue_key_pair(&self, key_pair: &UserKeyPairContainer) -> Result<()> {
        let call = Call::api(
            Method::POST,
            "/settings/keypair".into(),
            "set system rescue key pair",
        )
        .json(key_pair)?;
        self.call_empty(&call).await
    }

    /// `DELETE /settings/keypair[?version=]`.
    pub async fn delete_system_rescue_key_pair(
        &self,
        version: Option<UserKeyPairVersion>,
    ) -> Result<()> {
        let path = version_query("/settings/keypair", version);
        self.call_empty(&Call::api(
            Method::DELETE,
            path,
            "delete system rescue key pair",
        ))
        .await
    }

    /// `POST /user/account/keypairs`: a new key pair for the user, keeping the previous private
    /// key (encrypted with the current password) so file keys can be migrated later with
    /// [`UseKey::PreviousUserKey`].
    pub async fn create_and_preserve_user_key_pair(
        &self,
        request: &CreateKeyPairRequest,
    ) -> Result<()> {
        let call = Call::api(
            Method::POST,
            "/user/account/keypairs".into(),
            "create user key pair",
        )
        .idempotent(false)
        .json(request)?;
        self.call_empty(&call).await
    }

    /// Generates a room rescue key pair of `version`, encrypts its private key with the room
    /// rescue password, and sets it (`POST /nodes/rooms/{room_id}/keypair`). Returns the
    /// unlocked key pair.
    pub async fn create_room_rescue_key_pair(
        &self,
        room_id: i64,
        version: UserKeyPairVersion,
        rescue_password: &Password,
    ) -> Result<UserKeyPair> {
        let (pair, container) = self.generate_sealed(version, rescue_password).await?;
        self.set_room_rescue_key_pair(room_id, &container).await?;
        Ok(pair)
    }

    /// Generates a system rescue key pair of `version`, encrypts its private key with the
    /// system rescue password, and sets it (`POST /settings/keypair`; this enables
    /// client-side encryption for the customer). Returns the unlocked key pair.
    pub async fn create_system_rescue_key_pair(
        &self,
        version: UserKeyPairVersion,
        rescue_password: &Password,
    ) -> Result<UserKeyPair> {
        let (pair, container) = self.generate_sealed(version, rescue_password).await?;
        self.set_system_rescue_key_pair(&container).await?;
        Ok(pair)
    }

    /// A new key pair and its container sealed with `password`: RSA key generation and PBKDF2
    /// run through [`Transport::offload`].
    async fn generate_sealed(
        &self,
        version: UserKeyPairVersion,
        password: &Password,
    ) -> Result<(UserKeyPair, UserKeyPairContainer)> {
        let password = password.clone();
        self.offload(move || {
            let pair = UserKeyPair::generate(version)?;
            let container = pair.to_container(&password)?;
            Ok((pair, container))
        })
        .await?
    }

    /// `GET /config/info/policies/algorithms`.
    pub async fn algorithms(&self) -> Result<AlgorithmVersionInfoList> {
        let call = Call::api(
            Method::GET,
            "/config/info/policies/algorithms".into(),
            "get algorithms",
        );
        self.call_json(&call).await
    }

    /// Fetches and unlocks the key pairs that unwrap the file keys listed for `use_key`:
    /// without it (or with [`UseKey::PreviousUserKey`]) all the user's key pairs
    /// (`GET /user/account/keypairs`), with the room variants the room's rescue key pairs
    /// (`room_id` required), with the system variants the system rescue key pairs.
    ///
    /// Each key pair is unlocked once, in parallel, through [`Transport::offload`]. At most
    /// [`MAX_KEY_PAIRS_PER_VERSION`] key pairs per version are unlocked, and none whose PBKDF2
    /// iteration count exceeds 2,000,000 (local files allow 10,000,000), so a server cannot
    /// force unbounded work. Entries with unknown versions, key pairs beyond the cap, and key
    /// pairs the password does not open while another one opens, are skipped and reported as
    /// [`Event::Skipped`]; when none opens, the first error is returned.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.key_ring", level = "info", skip_all)
    )]
    pub async fn key_ring(
        &self,
        password: &Password,
        use_key: Option<UseKey>,
        room_id: Option<i64>,
    ) -> Result<KeyRing> {
        let owner = match use_key {
            None | Some(UseKey::PreviousUserKey) => Owner::User,
            Some(UseKey::RoomRescueKey | UseKey::PreviousRoomRescueKey) => Owner::Room(
                room_id.ok_or(Error::InvalidArgument("a room rescue key needs a room id"))?,
            ),
            Some(UseKey::SystemRescueKey | UseKey::PreviousSystemRescueKey) => Owner::System,
        };
        let listed = match owner {
            Owner::User => self.user_key_pairs().await?,
            Owner::Room(id) => {
                let mut all = self.room_rescue_key_pairs(id).await?;
                if all.is_empty() {
                    all.push(Lenient::Valid(self.room_rescue_key_pair(id, None).await?));
                }
                all
            }
            Owner::System => self.system_rescue_key_pairs().await?,
        };
        let mut containers = Vec::new();
        let mut per_version: HashMap<UserKeyPairVersion, usize> = HashMap::new();
        for entry in listed {
            match entry {
                Lenient::Valid(c) => {
                    // A server cannot make us unlock more than a few key pairs per version.
                    let n = per_version
                        .entry(c.private_key_container.version)
                        .or_default();
                    *n += 1;
                    if *n > MAX_KEY_PAIRS_PER_VERSION {
                        self.emit(Event::Skipped(Skipped {
                            file_id: None,
                            user_id: None,
                            reason: SkipReason::MalformedEntry(format!(
                                "key pair skipped: more than {MAX_KEY_PAIRS_PER_VERSION} of version {}",
                                c.private_key_container.version
                            )),
                        }));
                        continue;
                    }
                    containers.push(c);
                }
                Lenient::Invalid { reason, .. } => self.emit(Event::Skipped(Skipped {
                    file_id: None,
                    user_id: None,
                    reason: SkipReason::MalformedEntry(format!("key pair skipped: {reason}")),
                })),
            }
        }
        if containers.is_empty() {
            return Err(Error::Api {
                status: 404,
                code: Some(-70020),
                message: "no usable key pair on the server".into(),
            });
        }
        // PBKDF2 (and the RSA key checks) off the executor, in parallel across cores, with
        // the server cap on the iteration count.
        let password = password.clone();
        let unlocked = self
            .offload(move || {
                par_map(&containers, |c| {
                    UserKeyPair::unlock_from_server(c, &password)
                })
            })
            .await?;
        let mut pairs = Vec::new();
        let mut first_err = None;
        for r in unlocked {
            match r {
                Ok(p) => pairs.push(p),
                Err(e) => {
                    self.emit(Event::Skipped(Skipped {
                        file_id: None,
                        user_id: None,
                        reason: SkipReason::MalformedEntry(format!("key pair not unlocked: {e}")),
                    }));
                    first_err.get_or_insert(e);
                }
            }
        }
        match (pairs.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            _ => Ok(KeyRing::new(pairs)),
        }
    }
}
