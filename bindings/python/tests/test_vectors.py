"""Every case of the official vector manifest through the Python API: each case's expected
outcome, with the error class as the exception type."""

import base64
import io
import json

import pytest

import dracoon_crypto as dc
from conftest import VECTORS

CLASSES = {
    "wrong_password": dc.WrongPassword,
    "invalid_key_pair": dc.InvalidKeyPair,
    "invalid_file_key": dc.InvalidFileKey,
    "bad_file": dc.BadFile,
    "version_mismatch": dc.VersionMismatch,
    "unknown_version": dc.UnsupportedVersion,
    "limit_exceeded": dc.LimitExceeded,
    "invalid_argument": dc.InvalidArgument,
}


def text(case, name):
    return (VECTORS / case["inputs"][name]).read_text()


def b64(case, name):
    return base64.b64decode(text(case, name).strip())


def password(case):
    raw = text(case, "password_file")
    if case.get("password_trim"):
        if raw.endswith("\r\n"):
            raw = raw[:-2]
        elif raw.endswith("\n"):
            raw = raw[:-1]
    return raw


def private_key(case):
    if "plain_private_key" in case["inputs"] and "private_key" not in case["inputs"]:
        return dc.PrivateKey.from_plain_json(text(case, "plain_private_key"))
    return dc.PrivateKey.unlock(text(case, "private_key"), password(case))


def keypair_json(case):
    return json.dumps(
        {
            "privateKeyContainer": json.loads(text(case, "private_key")),
            "publicKeyContainer": json.loads(text(case, "public_key")),
        }
    )


def run(case):
    op = case["op"]
    if op == "unlock_keypair":
        if "keypair_fixture" in case["inputs"]:
            fixture = json.loads(text(case, "keypair_fixture"))
            kp = dc.KeyPair.unlock(
                json.dumps(fixture["encryptedUserKeyPairContainer"]), fixture["config"]["password"]
            )
            plain = fixture["plainUserKeyPairContainer"]
            assert dc.PrivateKey.from_plain_json(json.dumps(plain["privateKeyContainer"])) == kp.private_key
            assert dc.PublicKey.from_json(json.dumps(plain["publicKeyContainer"])) == kp.public_key
            return
        kp_json = keypair_json(case)
        # The module function and the class agree.
        dc.check_keypair(kp_json, password(case))
        kp = dc.KeyPair.unlock(kp_json, password(case))
        if "plain_private_key" in case["inputs"]:
            assert dc.PrivateKey.from_plain_json(text(case, "plain_private_key")) == kp.private_key
        assert dc.PrivateKey.unlock(text(case, "private_key"), password(case)) == kp.private_key
    elif op == "unlock_private_key":
        dc.PrivateKey.unlock(text(case, "private_key"), password(case))
    elif op == "unwrap_file_key":
        efk = dc.EncryptedFileKey.from_json(text(case, "encrypted_file_key"))
        got = private_key(case).unwrap(efk)
        assert got == dc.FileKey.from_json(text(case, "plain_file_key"))
        if "private_key" in case["inputs"] and "public_key" in case["inputs"]:
            plain = dc.unwrap_key(keypair_json(case), password(case), text(case, "encrypted_file_key"))
            assert dc.FileKey.from_json(plain) == got
    elif op == "wrap_file_key":
        plain = dc.FileKey.from_json(text(case, "plain_file_key"))
        public = dc.PublicKey.from_json(text(case, "public_key"))
        wrapped = public.wrap(plain)
        assert wrapped.iv == plain.iv and wrapped.tag == plain.tag
        if "encrypted_file_key" in case["inputs"]:
            assert wrapped.version == dc.EncryptedFileKey.from_json(text(case, "encrypted_file_key")).version
        if "private_key" in case["inputs"]:
            assert private_key(case).unwrap(wrapped) == plain
        # The contract function too.
        again = dc.EncryptedFileKey.from_json(dc.wrap_key(plain.to_json(), text(case, "public_key")))
        if "private_key" in case["inputs"]:
            assert private_key(case).unwrap(again) == plain
    elif op == "decrypt_file":
        key = dc.FileKey.from_json(text(case, "plain_file_key"))
        ct = b64(case, "ciphertext_b64")
        pt = b64(case, "plaintext_b64") if "plaintext_b64" in case["inputs"] else None
        got = dc.decrypt(ct, key)
        assert pt is None or got == pt
        with dc.Decryptor(key) as d:
            out = b"".join(d.update(ct[i : i + 16]) for i in range(0, len(ct), 16))
            d.finalize()
        assert out == got
        sink = io.BytesIO()
        dc.decrypt_stream(io.BytesIO(ct), sink, key)
        assert sink.getvalue() == got
    elif op == "encrypt_file":
        key = dc.FileKey.from_json(text(case, "plain_file_key"))
        pt, expected = b64(case, "plaintext_b64"), b64(case, "ciphertext_b64")
        ct, out_key = dc.hazmat_encrypt_with_file_key(key, pt)
        match = case.get("match") or {"ciphertext": True, "tag": True}
        assert (ct == expected) == match["ciphertext"]
        assert (out_key.tag == key.tag) == match["tag"]
        if not (ct == expected and out_key.tag == key.tag):
            raise dc.BadFile("output does not reproduce ciphertext and tag")
    elif op == "parse_public_key":
        key = dc.PublicKey.from_json(text(case, "public_key"))
        assert dc.PublicKey.from_json(key.to_json()) == key
    elif op == "parse_file_key":
        if "encrypted_file_key" in case["inputs"]:
            k = dc.EncryptedFileKey.from_json(text(case, "encrypted_file_key"))
            assert dc.EncryptedFileKey.from_json(k.to_json()) == k
        if "plain_file_key" in case["inputs"]:
            k = dc.FileKey.from_json(text(case, "plain_file_key"))
            assert dc.FileKey.from_json(k.to_json()) == k
    else:
        raise AssertionError(f"unknown op {op}")


def cases():
    return json.loads((VECTORS / "manifest.json").read_text())["cases"]


def test_the_manifest_has_all_277_cases(manifest):
    assert len(manifest["cases"]) == 277


@pytest.mark.parametrize("case", cases(), ids=lambda c: c["id"])
def test_official_case(case):
    if case["expect"] == "ok":
        run(case)
    else:
        with pytest.raises(CLASSES[case["expect"]]):
            run(case)
        if case["op"] == "decrypt_file" and case["expect"] == "bad_file":
            # The verify-first stream releases nothing for a failing file.
            key = dc.FileKey.from_json(text(case, "plain_file_key"))
            sink = io.BytesIO()
            with pytest.raises(CLASSES[case["expect"]]):
                dc.decrypt_stream(io.BytesIO(b64(case, "ciphertext_b64")), sink, key)
            assert sink.getvalue() == b""
