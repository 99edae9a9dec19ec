//! Routing and authentication.

use std::sync::Arc;

use serde_json::json;

use super::json::{ApiError, ApiResult, code};
use super::model::{Reply, Req};
use super::{Shared, keypairs, missing, shares, transfers, uploads};

/// Answers one API request.
pub(crate) fn dispatch(shared: &Arc<Shared>, req: Req) -> Reply {
    match route(shared, &req) {
        Ok(reply) => reply,
        Err(error) => Reply::error(&error),
    }
}

fn route(shared: &Arc<Shared>, req: &Req) -> ApiResult<Reply> {
    if let Some(rest) = req.path.strip_prefix("/s3/") {
        return uploads::s3_part(shared, req, rest);
    }
    let Some(rest) = req.path.strip_prefix("/api/v4/") else {
        return Err(ApiError::plain(404, "the API lives under /api/v4"));
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        // Configuration (the last two are additions beyond the YAML subset, see the contract).
        ("GET", ["config", "info", "policies", "algorithms"]) => {
            authenticate(shared, req)?;
            Ok(Reply::json(200, &algorithms()))
        }
        ("GET", ["config", "info", "general"]) => {
            authenticate(shared, req)?;
            let s3 = shared.lock().s3_enabled;
            Ok(Reply::json(
                200,
                &json!({"useS3Storage": s3, "s3TagsEnabled": false, "cryptoEnabled": true,
                        "sharePasswordSmsEnabled": false, "mediaServerEnabled": false,
                        "weakPasswordEnabled": false, "homeRoomsActive": false}),
            ))
        }
        ("GET", ["public", "system", "info"]) => {
            public(shared, req, "GET /public/system/info");
            let s3 = shared.lock().s3_enabled;
            Ok(Reply::json(
                200,
                &json!({"languageDefault": "en", "hideLoginInputFields": false,
                        "s3Hosts": [], "s3EnforceDirectUpload": false, "useS3Storage": s3}),
            ))
        }

        // Key pairs: user, system rescue, room rescue.
        (_, ["user", "account", "keypair"]) => {
            let user = authenticate(shared, req)?;
            keypairs::user_key_pair(shared, req, user)
        }
        (_, ["user", "account", "keypairs"]) => {
            let user = authenticate(shared, req)?;
            keypairs::user_key_pairs(shared, req, user)
        }
        (_, ["settings", "keypair"]) => {
            let user = authenticate(shared, req)?;
            keypairs::system_key_pair(shared, req, user)
        }
        (_, ["settings", "keypairs"]) => {
            let user = authenticate(shared, req)?;
            keypairs::system_key_pairs(shared, req, user)
        }
        (_, ["nodes", "rooms", room, "keypair"]) => {
            let user = authenticate(shared, req)?;
            keypairs::room_key_pair(shared, req, user, path_id(room)?)
        }
        (_, ["nodes", "rooms", room, "keypairs"]) => {
            let user = authenticate(shared, req)?;
            keypairs::room_key_pairs(shared, req, user, path_id(room)?)
        }
        ("PUT", ["nodes", "rooms", room, "encrypt"]) => {
            let user = authenticate(shared, req)?;
            keypairs::encrypt_room(shared, req, user, path_id(room)?)
        }

        // Missing keys and file keys.
        ("GET", ["nodes", "missingFileKeys"]) => {
            let user = authenticate(shared, req)?;
            missing::missing_file_keys(shared, req, user)
        }
        ("POST", ["nodes", "files", "keys"]) => {
            let user = authenticate(shared, req)?;
            missing::set_file_keys(shared, req, user)
        }

        // Uploads with authentication.
        ("POST", ["nodes", "files", "uploads"]) => {
            let user = authenticate(shared, req)?;
            uploads::create_channel(shared, req, user)
        }
        ("GET", ["nodes", "files", "uploads", id]) => {
            let user = authenticate(shared, req)?;
            uploads::status(shared, &uploads::Channel::User { id, user })
        }
        ("DELETE", ["nodes", "files", "uploads", id]) => {
            let user = authenticate(shared, req)?;
            uploads::cancel(shared, &uploads::Channel::User { id, user })
        }
        ("POST", ["nodes", "files", "uploads", id, "s3_urls"]) => {
            let user = authenticate(shared, req)?;
            uploads::s3_urls(shared, req, &uploads::Channel::User { id, user })
        }
        ("PUT", ["nodes", "files", "uploads", id, "s3"]) => {
            let user = authenticate(shared, req)?;
            uploads::complete_s3(shared, req, &uploads::Channel::User { id, user })
        }

        // File keys and downloads.
        ("GET", ["nodes", "files", file, "user_file_key"]) => {
            let user = authenticate(shared, req)?;
            transfers::user_file_key(shared, req, user, path_id(file)?)
        }
        ("GET", ["nodes", "files", file, "data_room_file_key"]) => {
            let user = authenticate(shared, req)?;
            transfers::rescue_file_key(shared, req, user, path_id(file)?, true)
        }
        ("GET", ["nodes", "files", file, "data_space_file_key"]) => {
            let user = authenticate(shared, req)?;
            transfers::rescue_file_key(shared, req, user, path_id(file)?, false)
        }
        ("POST", ["nodes", "files", file, "downloads"]) => {
            let user = authenticate(shared, req)?;
            transfers::create_download(shared, user, path_id(file)?)
        }
        ("GET", ["downloads", token]) => {
            public(shared, req, "GET /downloads/{token}");
            transfers::download(shared, req, token)
        }

        // Token uploads (no authentication).
        ("POST", ["uploads", token]) => {
            public(shared, req, "POST /uploads/{token}");
            uploads::chunk(shared, req, &uploads::Channel::Token(token))
        }
        ("PUT", ["uploads", token]) => {
            public(shared, req, "PUT /uploads/{token}");
            uploads::complete(shared, req, &uploads::Channel::Token(token))
        }
        ("DELETE", ["uploads", token]) => {
            public(shared, req, "DELETE /uploads/{token}");
            uploads::cancel(shared, &uploads::Channel::Token(token))
        }

        // Shares.
        ("POST", ["shares", "downloads"]) => {
            let user = authenticate(shared, req)?;
            shares::create_download_share(shared, req, user)
        }
        ("GET", ["public", "shares", "downloads", key]) => {
            public(shared, req, "GET /public/shares/downloads/{access_key}");
            shares::public_download_share(shared, key)
        }
        ("POST", ["public", "shares", "downloads", key]) => {
            public(shared, req, "POST /public/shares/downloads/{access_key}");
            shares::public_download_url(shared, req, key)
        }
        ("GET", ["public", "shares", "downloads", key, token]) => {
            public(
                shared,
                req,
                "GET /public/shares/downloads/{access_key}/{token}",
            );
            shares::public_download(shared, req, key, token)
        }
        ("GET", ["public", "shares", "uploads", key]) => {
            public(shared, req, "GET /public/shares/uploads/{access_key}");
            shares::public_upload_share(shared, key)
        }
        ("POST", ["public", "shares", "uploads", key]) => {
            public(shared, req, "POST /public/shares/uploads/{access_key}");
            uploads::create_share_channel(shared, req, key)
        }
        (_, ["public", "shares", "uploads", key, id]) => {
            public(
                shared,
                req,
                &format!("{method} /public/shares/uploads/{{access_key}}/{{upload_id}}"),
            );
            let channel = uploads::Channel::Share { key, id };
            match method {
                "POST" => uploads::chunk(shared, req, &channel),
                "PUT" => uploads::complete(shared, req, &channel),
                "GET" => uploads::status(shared, &channel),
                "DELETE" => uploads::cancel(shared, &channel),
                _ => Err(not_allowed(method)),
            }
        }
        ("POST", ["public", "shares", "uploads", key, id, "s3_urls"]) => {
            public(shared, req, "POST /public/shares/uploads/.../s3_urls");
            uploads::s3_urls(shared, req, &uploads::Channel::Share { key, id })
        }
        ("PUT", ["public", "shares", "uploads", key, id, "s3"]) => {
            public(shared, req, "PUT /public/shares/uploads/.../s3");
            uploads::complete_s3(shared, req, &uploads::Channel::Share { key, id })
        }

        _ => Err(ApiError::plain(
            404,
            format!("{method} /api/v4/{rest}: not an endpoint of the testkit"),
        )),
    }
}

pub(crate) fn not_allowed(method: &str) -> ApiError {
    ApiError::plain(405, format!("method {method} not allowed here"))
}

/// The caller's user id from `Authorization: Bearer <token>` (or the spec's
/// `X-Sds-Auth-Token`); 401 otherwise.
fn authenticate(shared: &Shared, req: &Req) -> ApiResult<i64> {
    let token = match (req.header("authorization"), req.header("x-sds-auth-token")) {
        (Some(auth), _) => {
            let (scheme, token) = auth.trim().split_once(' ').unwrap_or((auth, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(ApiError::new(
                    401,
                    code::NOT_AUTHORIZED,
                    "Authorization must be `Bearer <token>`",
                ));
            }
            token.trim()
        }
        (None, Some(token)) => token.trim(),
        (None, None) => {
            return Err(ApiError::new(
                401,
                code::NOT_AUTHORIZED,
                "authentication required (Authorization: Bearer <token>)",
            ));
        }
    };
    shared
        .lock()
        .tokens
        .get(token)
        .copied()
        .ok_or_else(|| ApiError::new(401, code::WRONG_TOKEN, "unknown token"))
}

/// Public, token and S3 endpoints: an auth header there is a client defect (the token would
/// leak to whoever holds the link).
fn public(shared: &Shared, req: &Req, what: &str) {
    for header in ["authorization", "x-sds-auth-token"] {
        if req.header(header).is_some() {
            shared.lock().violation(format!(
                "{header} header sent to the public endpoint {what}"
            ));
        }
    }
}

/// Records the violation for an auth header on a presigned S3 URL; true if there was one.
pub(crate) fn auth_header_on_s3(shared: &Shared, req: &Req) -> bool {
    let mut found = false;
    for header in ["authorization", "x-sds-auth-token"] {
        if req.header(header).is_some() {
            found = true;
            shared.lock().violation(format!(
                "{header} header sent to a presigned S3 URL ({} {})",
                req.method, req.path
            ));
        }
    }
    found
}

/// An int64 path parameter (`-80002` when it is not one).
fn path_id(segment: &str) -> ApiResult<i64> {
    segment.parse().map_err(|_| {
        ApiError::bad_request(
            code::INVALID_NUMBER,
            format!("path parameter {segment:?} must be an int64"),
        )
    })
}

fn algorithms() -> serde_json::Value {
    json!({
        "fileKeyAlgorithms": [
            {"version": "RSA-4096/AES-256-GCM", "description": "Client-side encryption with RSA 4096 & AES-256 GCM", "status": "REQUIRED"},
            {"version": "A", "description": "Client-side encryption with RSA 2048 & AES-256 GCM", "status": "DISCOURAGED"},
        ],
        "keyPairAlgorithms": [
            {"version": "RSA-4096", "description": "RSA 4096", "status": "REQUIRED"},
            {"version": "A", "description": "RSA 2048", "status": "DISCOURAGED"},
        ],
    })
}
