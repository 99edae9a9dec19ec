//! Input of the `workflows` target: which workflow to run with which options, and a script of
//! HTTP answers for the fake server.
//!
//! Layout: a [`WorkflowInput`] read with `arbitrary` (only fixed-size fields and one list, so
//! that [`WorkflowInput::encode`] can write it for the seeder), then the rest of the input: raw
//! bodies ("blobs") separated by [`BLOB_SEPARATOR`], which `Body::Blob` answers name by index.
//! Blobs are where libFuzzer's byte mutations work on JSON directly; the seeder fills them with
//! the fixtures' valid answers.

use arbitrary::{Arbitrary, Unstructured};

/// Separates the raw bodies at the end of an input.
pub const BLOB_SEPARATOR: &[u8] = b"\n#--#\n";

/// A `workflows` input.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct WorkflowInput {
    /// The workflow and its options.
    pub workflow: Workflow,
    /// Retries of the retry policy: `retries % 4`.
    pub retries: u8,
    /// S3 polling timeout in 100 ms steps: `s3_timeout % 40`.
    pub s3_timeout: u8,
    /// What the server answers once the script is used up.
    pub after: After,
    /// The scripted answers, one per request, in order.
    pub answers: Vec<Answer>,
}

/// The workflow under test (numbers are reduced to small ranges by the harness).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    /// `distribute_missing_keys` with the fixture's key ring.
    Distribute {
        /// `room_id` filter.
        room: Option<i8>,
        /// `file_id` filter.
        file: Option<i8>,
        /// `user_id` filter.
        user: Option<i8>,
        /// `use_key`: none for 0, else one of the five (`% 6`).
        use_key: u8,
        /// `max_requests`: `1 + max_requests % 8`.
        max_requests: u8,
    },
    /// `upload` or `upload_slice` (chunked or S3).
    Upload {
        /// Through S3.
        s3: bool,
        /// Plaintext length.
        len: u8,
        /// Chunk size `1 + chunk % 64`; with bit 7 set the plaintext is a slice
        /// (`upload_slice`), else a reader.
        chunk: u8,
        /// Declared size: 0 none, 1 right, 2 one more, 3 one less.
        sized: u8,
        /// Distribute after the upload.
        distribute: bool,
        /// Also wrap for a second user.
        also_for: bool,
        /// Resolution strategy (`% 3`).
        resolution: u8,
    },
    /// `upload_to_share` (or `upload_slice_to_share`).
    ShareUpload {
        /// Through S3.
        s3: bool,
        /// Plaintext length.
        len: u8,
        /// Chunk size `1 + chunk % 64`; bit 7 as for `Upload` (`upload_slice_to_share`).
        chunk: u8,
        /// Declared size as for `Upload`.
        sized: u8,
        /// With an access password.
        password: bool,
    },
    /// `download_to_vec` (0), `download_to_path` (1) or `download_to_writer` (2), `to % 3`.
    Download {
        /// Where to.
        to: u8,
        /// Chunk size `1 + chunk % 64`.
        chunk: u8,
    },
    /// `download_share_to_vec` (even) or `download_share_to_path` (odd).
    ShareDownload {
        /// Where to.
        to: u8,
        /// Chunk size `1 + chunk % 64`.
        chunk: u8,
    },
    /// `open_download_share`.
    OpenShare,
    /// `create_encrypted_download_share` (with a key ring that cannot unwrap: see the target).
    CreateShare,
    /// `key_ring`.
    KeyRing {
        /// `use_key` as for `Distribute`.
        use_key: u8,
        /// Room id.
        room: Option<i8>,
    },
    /// A key pair fetch: `which % 9` picks `user_key_pair` (none, A, RSA-4096),
    /// `user_key_pairs`, `preferred_user_key_pair`, `room_rescue_key_pair(s)`,
    /// `system_rescue_key_pair(s)`; 9.. also `algorithms`.
    KeyPair {
        /// Which.
        which: u8,
    },
}

/// What the server answers once the script is used up.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The honest answer (the fake server's own logic).
    Honest,
    /// The last scripted answer again, forever (the honest answer if there was none).
    Repeat,
    /// This status (`100 + status % 500`) with an `ErrorResponse` body.
    Status(u16),
    /// A transport error of kind `kind % 6`.
    Fail(u8),
}

/// One scripted answer.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status: `None` the honest one, else `100 + status % 500`.
    pub status: Option<u16>,
    /// The body.
    pub body: Body,
    /// A change to the body's JSON.
    pub edit: Option<Edit>,
    /// `Retry-After`: `n % 4` picks `0`, `(n / 4) % 5`, an HTTP date, or a huge number.
    pub retry_after: Option<u16>,
    /// `ETag`: `k % 5` removes it, or sets `""`, `"\"\""`, `"\"etag-x\""` or `W/"weak"`.
    pub etag: Option<u8>,
    /// `Content-Range` change.
    pub range: Option<RangeEdit>,
}

/// The body of a scripted answer.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// What the honest server would send.
    Honest,
    /// A fixture template (`api::Template::from_index`).
    Template(u8),
    /// Blob `n % blobs` of the input's tail (empty when there is none).
    Blob(u8),
    /// No body.
    Empty,
    /// No answer at all: a transport error of kind `kind % 6`.
    TransportError(u8),
}

/// A change to a JSON body: walk `path` (each step an object member or array element index,
/// modulo their number; 255 stops) and apply `op` there.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The path.
    pub path: [u8; 3],
    /// The change.
    pub op: EditOp,
}

/// What an [`Edit`] does.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOp {
    /// Remove the member or element.
    Remove,
    /// Replace with `null`.
    Null,
    /// Replace with a boolean.
    Bool(bool),
    /// Replace with an integer.
    Int(i64),
    /// Replace with one of a few strings (`s % N`).
    Str(u8),
    /// Replace with `[]`.
    EmptyArray,
    /// Replace with `{}`.
    EmptyObject,
    /// Duplicate an array element `n % 8 + 1` times (or, elsewhere, wrap in an array).
    Duplicate(u8),
}

/// A change to `Content-Range`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEdit {
    /// Remove it.
    Remove,
    /// Shift start, end and total of the honest range (or of `bytes 0-0/1`).
    Shift(i8, i8, i8),
    /// Replace the total with `*`.
    NoTotal,
    /// One of a few odd values (`n % N`).
    Odd(u8),
}

impl WorkflowInput {
    /// A scripted input with a 1 s S3 polling timeout (what the seeds and tests use).
    #[must_use]
    pub fn scripted(workflow: Workflow, retries: u8, after: After, answers: Vec<Answer>) -> Self {
        Self {
            workflow,
            retries,
            s3_timeout: 10,
            after,
            answers,
        }
    }

    /// The workflow against the honest server: no script, no retries.
    #[must_use]
    pub fn honest(workflow: Workflow) -> Self {
        Self::scripted(workflow, 0, After::Honest, Vec::new())
    }

    /// Whether every answer is the honest server's (no script, nothing after it).
    #[must_use]
    pub fn is_honest(&self) -> bool {
        self.answers.is_empty() && self.after == After::Honest
    }

    /// Reads an input the way the target does: the structure, then the blobs.
    #[must_use]
    pub fn parse(data: &[u8]) -> Option<(Self, Vec<&[u8]>)> {
        let mut u = Unstructured::new(data);
        let input = Self::arbitrary(&mut u).ok()?;
        let rest = u.take_rest();
        let blobs = if rest.is_empty() {
            Vec::new()
        } else {
            split(rest, BLOB_SEPARATOR)
        };
        Some((input, blobs))
    }

    /// Encodes an input in `arbitrary`'s format followed by the blobs.
    #[must_use]
    pub fn encode(&self, blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut e = Enc::default();
        e.workflow(self.workflow);
        e.u8(self.retries);
        e.u8(self.s3_timeout);
        match self.after {
            After::Honest => e.variant(0, 4),
            After::Repeat => e.variant(1, 4),
            After::Status(s) => {
                e.variant(2, 4);
                e.u16(s);
            }
            After::Fail(k) => {
                e.variant(3, 4);
                e.u8(k);
            }
        }
        for a in &self.answers {
            e.bool(true);
            e.answer(a);
        }
        e.bool(false);
        let mut out = e.0;
        for (i, b) in blobs.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(BLOB_SEPARATOR);
            }
            out.extend_from_slice(b);
        }
        out
    }
}

fn split<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(sep.len()).position(|w| w == sep) {
        out.push(&data[..i]);
        data = &data[i + sep.len()..];
    }
    out.push(data);
    out
}

/// Writes values the way `arbitrary` 1.x reads them.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i8(&mut self, v: i8) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// The `u32` that makes a derived enum pick variant `index` of `count`.
    fn variant(&mut self, index: u64, count: u64) {
        let v = (index << 32).div_ceil(count);
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
    }
    fn opt_i8(&mut self, v: Option<i8>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.i8(v);
        }
    }
    fn opt_u8(&mut self, v: Option<u8>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.u8(v);
        }
    }
    fn opt_u16(&mut self, v: Option<u16>) {
        self.bool(v.is_some());
        if let Some(v) = v {
            self.u16(v);
        }
    }

    fn workflow(&mut self, w: Workflow) {
        const N: u64 = 9;
        match w {
            Workflow::Distribute {
                room,
                file,
                user,
                use_key,
                max_requests,
            } => {
                self.variant(0, N);
                self.opt_i8(room);
                self.opt_i8(file);
                self.opt_i8(user);
                self.u8(use_key);
                self.u8(max_requests);
            }
            Workflow::Upload {
                s3,
                len,
                chunk,
                sized,
                distribute,
                also_for,
                resolution,
            } => {
                self.variant(1, N);
                self.bool(s3);
                self.u8(len);
                self.u8(chunk);
                self.u8(sized);
                self.bool(distribute);
                self.bool(also_for);
                self.u8(resolution);
            }
            Workflow::ShareUpload {
                s3,
                len,
                chunk,
                sized,
                password,
            } => {
                self.variant(2, N);
                self.bool(s3);
                self.u8(len);
                self.u8(chunk);
                self.u8(sized);
                self.bool(password);
            }
            Workflow::Download { to, chunk } => {
                self.variant(3, N);
                self.u8(to);
                self.u8(chunk);
            }
            Workflow::ShareDownload { to, chunk } => {
                self.variant(4, N);
                self.u8(to);
                self.u8(chunk);
            }
            Workflow::OpenShare => self.variant(5, N),
            Workflow::CreateShare => self.variant(6, N),
            Workflow::KeyRing { use_key, room } => {
                self.variant(7, N);
                self.u8(use_key);
                self.opt_i8(room);
            }
            Workflow::KeyPair { which } => {
                self.variant(8, N);
                self.u8(which);
            }
        }
    }

    fn answer(&mut self, a: &Answer) {
        self.opt_u16(a.status);
        match a.body {
            Body::Honest => self.variant(0, 5),
            Body::Template(i) => {
                self.variant(1, 5);
                self.u8(i);
            }
            Body::Blob(i) => {
                self.variant(2, 5);
                self.u8(i);
            }
            Body::Empty => self.variant(3, 5),
            Body::TransportError(k) => {
                self.variant(4, 5);
                self.u8(k);
            }
        }
        self.bool(a.edit.is_some());
        if let Some(edit) = &a.edit {
            for p in edit.path {
                self.u8(p);
            }
            const N: u64 = 8;
            match edit.op {
                EditOp::Remove => self.variant(0, N),
                EditOp::Null => self.variant(1, N),
                EditOp::Bool(b) => {
                    self.variant(2, N);
                    self.bool(b);
                }
                EditOp::Int(v) => {
                    self.variant(3, N);
                    self.i64(v);
                }
                EditOp::Str(s) => {
                    self.variant(4, N);
                    self.u8(s);
                }
                EditOp::EmptyArray => self.variant(5, N),
                EditOp::EmptyObject => self.variant(6, N),
                EditOp::Duplicate(n) => {
                    self.variant(7, N);
                    self.u8(n);
                }
            }
        }
        self.opt_u16(a.retry_after);
        self.opt_u8(a.etag);
        self.bool(a.range.is_some());
        if let Some(r) = a.range {
            match r {
                RangeEdit::Remove => self.variant(0, 4),
                RangeEdit::Shift(s, e, t) => {
                    self.variant(1, 4);
                    self.i8(s);
                    self.i8(e);
                    self.i8(t);
                }
                RangeEdit::NoTotal => self.variant(2, 4),
                RangeEdit::Odd(n) => {
                    self.variant(3, 4);
                    self.u8(n);
                }
            }
        }
    }
}

impl Answer {
    /// An answer with the honest status and `body`, nothing else changed.
    #[must_use]
    pub fn body(body: Body) -> Self {
        Answer {
            status: None,
            body,
            edit: None,
            retry_after: None,
            etag: None,
            range: None,
        }
    }

    /// An answer with status `code` (100..=599) and an honest body.
    #[must_use]
    pub fn status(code: u16) -> Self {
        Answer {
            status: Some(code - 100),
            ..Answer::body(Body::Honest)
        }
    }
}

/// Workflows the seeder starts from (every variant, typical options).
#[must_use]
pub fn seed_workflows() -> Vec<Workflow> {
    let mut w = vec![
        Workflow::Distribute {
            room: None,
            file: None,
            user: None,
            use_key: 0,
            max_requests: 7,
        },
        Workflow::Distribute {
            room: Some(3),
            file: Some(0),
            user: Some(0),
            use_key: 1,
            max_requests: 2,
        },
        Workflow::Upload {
            s3: false,
            len: 77,
            chunk: 15,
            sized: 1,
            distribute: true,
            also_for: true,
            resolution: 0,
        },
        Workflow::Upload {
            s3: true,
            len: 77,
            chunk: 0,
            sized: 0,
            distribute: false,
            also_for: false,
            resolution: 1,
        },
        Workflow::Upload {
            s3: false,
            len: 0,
            chunk: 3,
            sized: 1,
            distribute: false,
            also_for: false,
            resolution: 2,
        },
        // From slices (bit 7 of `chunk`), with and without a declared size.
        Workflow::Upload {
            s3: false,
            len: 77,
            chunk: 0x80 | 15,
            sized: 1,
            distribute: true,
            also_for: false,
            resolution: 0,
        },
        Workflow::Upload {
            s3: true,
            len: 30,
            chunk: 0x80,
            sized: 1,
            distribute: false,
            also_for: false,
            resolution: 1,
        },
        Workflow::ShareUpload {
            s3: false,
            len: 40,
            chunk: 0x80 | 9,
            sized: 0,
            password: false,
        },
        Workflow::ShareUpload {
            s3: false,
            len: 40,
            chunk: 9,
            sized: 1,
            password: true,
        },
        Workflow::ShareUpload {
            s3: true,
            len: 5,
            chunk: 0,
            sized: 0,
            password: false,
        },
        Workflow::OpenShare,
        Workflow::CreateShare,
        Workflow::KeyRing {
            use_key: 0,
            room: None,
        },
        Workflow::KeyRing {
            use_key: 1,
            room: Some(3),
        },
        Workflow::KeyRing {
            use_key: 2,
            room: None,
        },
    ];
    for to in 0..3 {
        w.push(Workflow::Download { to, chunk: 15 });
    }
    w.push(Workflow::Download { to: 0, chunk: 63 });
    for to in 0..2 {
        w.push(Workflow::ShareDownload { to, chunk: 31 });
    }
    for which in 0..10 {
        w.push(Workflow::KeyPair { which });
    }
    w
}

/// Scripts the seeder combines with every workflow: the honest run, transient failures that a
/// retry absorbs, hard failures, odd headers, and a repeated answer.
#[must_use]
pub fn seed_scripts() -> Vec<(u8, After, Vec<Answer>)> {
    let transient = |a: Answer| vec![a];
    vec![
        (0, After::Honest, Vec::new()),
        (3, After::Honest, transient(Answer::status(503))),
        (
            2,
            After::Honest,
            vec![Answer {
                retry_after: Some(5),
                ..Answer::status(429)
            }],
        ),
        (
            1,
            After::Honest,
            vec![
                Answer::body(Body::TransportError(0)),
                Answer::body(Body::TransportError(2)),
            ],
        ),
        (0, After::Status(300), Vec::new()),
        (0, After::Fail(1), Vec::new()),
        (
            1,
            After::Honest,
            vec![
                Answer::body(Body::Honest),
                Answer {
                    edit: Some(Edit {
                        path: [0, 255, 255],
                        op: EditOp::Remove,
                    }),
                    ..Answer::body(Body::Honest)
                },
                Answer {
                    range: Some(RangeEdit::Shift(0, 1, 0)),
                    etag: Some(2),
                    ..Answer::body(Body::Honest)
                },
            ],
        ),
        (
            0,
            After::Repeat,
            vec![Answer::body(Body::Honest), Answer::body(Body::Template(8))],
        ),
        (0, After::Repeat, vec![Answer::body(Body::Template(0))]),
    ]
}
