"""The module contract of PYTHON.md and the Python API on top: round trips at any split,
verified streaming, secrets out of repr, the GIL released for heavy work, no input crashes."""

import io
import json
import os
import pathlib
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dracoon_crypto as dc

PASSWORD = "Qwer1234!ä🐛"


@pytest.fixture(scope="module")
def keypair_json():
    return dc.keygen("A", PASSWORD)


def test_exception_hierarchy():
    for cls in [
        dc.WrongPassword, dc.InvalidKeyPair, dc.InvalidFileKey, dc.BadFile,
        dc.VersionMismatch, dc.UnsupportedVersion, dc.LimitExceeded, dc.InvalidArgument,
    ]:
        assert issubclass(cls, dc.Error)
    assert issubclass(dc.Error, Exception)


def test_the_package_is_typed():
    pkg = pathlib.Path(dc.__file__).parent
    assert (pkg / "py.typed").exists()
    assert any(p.suffix == ".pyi" for p in pkg.iterdir())


def test_contract_functions_round_trip(tmp_path, keypair_json):
    kp = json.loads(keypair_json)
    assert kp["publicKeyContainer"]["version"] == "A"
    dc.check_keypair(keypair_json, PASSWORD)
    with pytest.raises(dc.WrongPassword):
        dc.check_keypair(keypair_json, "not it")

    src, enc, out = tmp_path / "a.bin", tmp_path / "a.enc", tmp_path / "a.out"
    data = os.urandom(3 * 1024 * 1024 + 5)
    src.write_bytes(data)
    fk = dc.encrypt_file(keypair_json, src, str(enc))
    dc.decrypt_file(keypair_json, PASSWORD, fk, enc, out)
    assert out.read_bytes() == data

    # A tampered file: BadFile, and no output appears.
    bad = bytearray(enc.read_bytes())
    bad[7] ^= 1
    enc.write_bytes(bytes(bad))
    out2 = tmp_path / "b.out"
    with pytest.raises(dc.BadFile):
        dc.decrypt_file(keypair_json, PASSWORD, fk, enc, out2)
    assert not out2.exists()

    ct, fk = dc.encrypt_bytes(json.dumps(kp["publicKeyContainer"]), b"hello")
    assert dc.decrypt_bytes(keypair_json, PASSWORD, fk, ct) == b"hello"
    with pytest.raises(dc.BadFile):
        dc.decrypt_bytes(keypair_json, PASSWORD, fk, ct[:-1] + bytes([ct[-1] ^ 1]))

    plain = dc.unwrap_key(keypair_json, PASSWORD, fk)
    assert json.loads(plain)["version"] == "A"
    again = dc.wrap_key(plain, keypair_json)
    assert dc.unwrap_key(keypair_json, PASSWORD, again) == plain

    with pytest.raises(OSError):
        dc.encrypt_file(keypair_json, tmp_path / "missing", tmp_path / "x")
    with pytest.raises(dc.UnsupportedVersion):
        dc.keygen("B", PASSWORD)


def test_objects_and_redaction(keypair_json):
    with dc.KeyPair.unlock(keypair_json, PASSWORD) as kp:
        assert kp.version == "A"
        assert "redacted" in repr(kp)
        ct, key = dc.encrypt(b"secret")
        assert "redacted" in repr(key) and key.to_json() not in repr(key)
        wrapped = kp.public_key.wrap(key)
        assert kp.private_key.unwrap(wrapped) == key
        assert "redacted" in repr(kp.private_key)
        assert json.loads(kp.to_json(PASSWORD))["privateKeyContainer"]["version"] == "A"
    assert "closed" in repr(kp)
    with pytest.raises(dc.InvalidArgument):
        kp.public_key


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), splits=st.lists(st.integers(0, 5000), max_size=8))
def test_streaming_round_trip_at_any_split(data, splits):
    cuts = sorted({min(s, len(data)) for s in splits} | {0, len(data)})
    with dc.Encryptor() as enc:
        ct = b"".join(enc.update(data[a:b]) for a, b in zip(cuts, cuts[1:]))
        key = enc.finalize()
    assert len(ct) == len(data)
    assert dc.decrypt(ct, key) == data
    dec = dc.Decryptor(key)
    pt = b"".join(dec.update(ct[a:b]) for a, b in zip(cuts, cuts[1:]))
    dec.finalize()
    assert pt == data
    if data:
        bad = bytes([ct[0] ^ 1]) + ct[1:]
        dec = dc.Decryptor(key)
        dec.update(bad)
        with pytest.raises(dc.BadFile):
            dec.finalize()


class NoSeek(io.RawIOBase):
    """A pipe-like reader."""

    def __init__(self, data):
        self.buf = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def read(self, n=-1):
        return self.buf.read(n)


@pytest.mark.parametrize("seekable", [True, False])
def test_decrypt_stream_releases_nothing_before_the_tag(seekable):
    data = os.urandom(2 * 1024 * 1024 + 3)
    src, dst = io.BytesIO(data), io.BytesIO()
    key = dc.encrypt_stream(src, dst)
    ct = dst.getvalue()

    def source(b):
        return io.BytesIO(b) if seekable else NoSeek(b)

    out = io.BytesIO()
    assert dc.decrypt_stream(source(ct), out, key) == len(data)
    assert out.getvalue() == data
    for pos in [0, len(ct) // 2, len(ct) - 1]:
        bad = bytearray(ct)
        bad[pos] ^= 0x80
        out = io.BytesIO()
        with pytest.raises(dc.BadFile):
            dc.decrypt_stream(source(bytes(bad)), out, key)
        assert out.getvalue() == b"", "plaintext released before the tag verified"


def test_the_gil_is_released_during_unlock(keypair_json):
    done = threading.Event()
    ticks = 0

    def unlock():
        dc.KeyPair.unlock(keypair_json, PASSWORD)
        done.set()

    t = threading.Thread(target=unlock)
    start = time.perf_counter()
    t.start()
    while not done.is_set():
        ticks += 1
    t.join()
    elapsed = time.perf_counter() - start
    # PBKDF2 with 1,300,000 iterations takes a noticeable time; with the GIL held, this loop
    # would not have run meanwhile (a few iterations at most, at thread switches).
    assert elapsed > 0.05
    assert ticks > 10_000, f"the main thread ran {ticks} times in {elapsed:.2f} s"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_garbage_never_crashes(text):
    for parse in [dc.FileKey.from_json, dc.EncryptedFileKey.from_json, dc.PublicKey.from_json]:
        try:
            parse(text)
        except dc.Error:
            pass
    for call in [
        lambda: dc.check_keypair(text, "pw"),
        lambda: dc.unwrap_key(text, "pw", text),
        lambda: dc.wrap_key(text, text),
        lambda: dc.PrivateKey.unlock(text, "pw"),
    ]:
        try:
            call()
        except dc.Error:
            pass


def test_finalized_objects_refuse_further_use():
    enc = dc.Encryptor()
    enc.finalize()
    with pytest.raises(dc.InvalidArgument):
        enc.update(b"x")
    with pytest.raises(dc.InvalidArgument):
        enc.finalize()
