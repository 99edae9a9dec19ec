//! The sans-I/O core: one request in, one answer out. No sockets, no runtime; the drivers
//! (the HTTP server in `server.rs`, the in-memory transport in `memory.rs`) only move bytes and
//! play the connection-level faults the core tells them to.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};

use super::json::ApiError;
use super::state::FaultAction;
use super::{Model, RecordedRequest, api};

impl RecordedRequest {
    /// The record of a request head; `body_len` and `status` are filled in as it is served.
    pub(crate) fn of(head: &http::request::Parts) -> Self {
        RecordedRequest {
            method: head.method.as_str().to_string(),
            path: head.uri.path().to_string(),
            query: head.uri.query().unwrap_or("").to_string(),
            authorization: head
                .headers
                .get(http::header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            headers: head
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body_len: 0,
            status: 0,
        }
    }
}

/// What a driver does with a request once its body is complete.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// Send this answer; with `cut`, break the connection after that many bytes of its body.
    Answer {
        response: Response<Bytes>,
        cut: Option<usize>,
    },
    /// Break the connection without an answer.
    Drop,
}

impl Model {
    /// The honest model: answers `request` as the DRACOON API would, with no injected fault,
    /// and records it (see [`Model::requests`]). `request.uri()` may be absolute
    /// (`https://dracoon.test/api/v4/...`) or a path; only its path and query are read.
    ///
    /// ```
    /// use dracoon_crypto_testkit::Model;
    ///
    /// let model = Model::new();
    /// let alice = model.create_user("alice");
    /// let request = http::Request::get(format!("{}/api/v4/config/info/policies/algorithms", model.base_url()))
    ///     .header("authorization", format!("Bearer {}", alice.token))
    ///     .body(bytes::Bytes::new())?;
    /// let answer = model.dispatch(request);
    /// assert_eq!(answer.status(), 200);
    /// assert!(model.violations().is_empty());
    /// # Ok::<(), http::Error>(())
    /// ```
    #[must_use]
    pub fn dispatch(&self, request: Request<Bytes>) -> Response<Bytes> {
        let (head, body) = request.into_parts();
        let record = RecordedRequest::of(&head);
        match self.exchange(None, record, body) {
            Exchange::Answer { response, .. } => response,
            // Only a fault drops an answer, and none was taken.
            Exchange::Drop => Reply::empty(500).into_response(),
        }
    }

    /// Takes the first injected fault that matches (it counts as used).
    pub(crate) fn take_fault(&self, method: &str, path: &str) -> Option<FaultAction> {
        self.shared.lock().take_fault(method, path)
    }

    /// Serves a request whose body is complete, under the fault the driver took for it, and
    /// records it.
    pub(crate) fn exchange(
        &self,
        fault: Option<FaultAction>,
        mut record: RecordedRequest,
        body: Bytes,
    ) -> Exchange {
        record.body_len = body.len();
        let reply = match fault {
            Some(FaultAction::Status {
                status,
                retry_after,
            }) => {
                let reply = Reply::error(&ApiError::plain(status, "injected fault"));
                match retry_after {
                    Some(seconds) => reply.with_header("retry-after", seconds.to_string()),
                    None => reply,
                }
            }
            _ => {
                let req = Req {
                    method: record.method.clone(),
                    path: record.path.clone(),
                    query: record.query.clone(),
                    headers: record.headers.clone(),
                    body,
                };
                api::dispatch(&self.shared, req)
            }
        };
        let cut = match fault {
            Some(FaultAction::Drop { after_bytes }) => {
                if reply.body.len() <= after_bytes {
                    // Nothing to cut: the answer is dropped as a whole.
                    self.shared.record(record);
                    return Exchange::Drop;
                }
                Some(after_bytes)
            }
            _ => {
                record.status = reply.status;
                None
            }
        };
        self.shared.record(record);
        Exchange::Answer {
            response: reply.into_response(),
            cut,
        }
    }

    /// Records a request the driver dropped before its body was complete (`body_len` bytes
    /// arrived).
    pub(crate) fn record_dropped(&self, mut record: RecordedRequest, body_len: usize) {
        record.body_len = body_len;
        self.shared.record(record);
    }
}

/// A request as the handlers see it: head plus the complete body.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl Req {
    /// The first header of that (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer as the handlers produce it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: Bytes::from(value.to_string()),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn binary(status: u16, body: Bytes) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/octet-stream".to_string())],
            body,
        }
    }

    pub(crate) fn error(error: &ApiError) -> Self {
        Reply::json(error.status, &error.body())
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The answer as an HTTP response (headers the model wrote are always valid).
    pub(crate) fn into_response(self) -> Response<Bytes> {
        let mut response = Response::new(self.body);
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        response
    }
}
