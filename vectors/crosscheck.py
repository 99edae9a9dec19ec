#!/usr/bin/env python3
"""Cross-checks this repository's vectors with an independent implementation (pyca/cryptography,
the library that verified the official SDK vectors' manifest).

    python3 vectors/crosscheck.py [VECTORS_DIR]

For every case of manifest.json it checks what the case claims, without any code of this crate:
private keys decrypt with their password (PKCS#8 PBES2) and match their public key, wrapped file
keys unwrap with RSA-OAEP (SHA-256 with MGF1-SHA-1 for version A, MGF1-SHA-256 for RSA-4096) to
the plain file key, ciphertexts decrypt and authenticate with AES-256-GCM, tampered ones do not.
Exit status 0 when all agree, 1 otherwise, 77 when pyca/cryptography is not installed.
"""
import base64
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    print("pyca/cryptography is not installed; skipped")
    sys.exit(77)

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def load(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def private_key(case):
    container = json.loads(load(case["inputs"]["private_key"]))
    password = load(case["inputs"]["password_file"])
    return container["version"], serialization.load_pem_private_key(
        container["privateKey"].encode(), password=password
    )


def public_key(rel):
    container = json.loads(load(rel))
    return container["version"], serialization.load_pem_public_key(container["publicKey"].encode())


def plain_key(rel):
    k = json.loads(load(rel))
    return base64.b64decode(k["key"]), base64.b64decode(k["iv"]), base64.b64decode(k["tag"])


def oaep(version):
    mgf = hashes.SHA1() if version == "A" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(algorithm=mgf), algorithm=hashes.SHA256(), label=None)


def check(case):
    op, inputs, expect = case["op"], case["inputs"], case["expect"]
    if op == "unlock_keypair":
        try:
            version, key = private_key(case)
        except ValueError:
            return "wrong_password"
        pub_version, pub = public_key(inputs["public_key"])
        if version != pub_version:
            return "version_mismatch"
        bits = {"A": 2048, "RSA-4096": 4096}[version]
        same = key.public_key().public_numbers() == pub.public_numbers()
        return "ok" if same and key.key_size == bits else "invalid_key_pair"
    if op == "parse_public_key":
        version, pub = public_key(inputs["public_key"])
        return "ok" if pub.key_size == {"A": 2048, "RSA-4096": 4096}[version] else "invalid_key_pair"
    if op in ("unwrap_file_key", "wrap_file_key"):
        efk = json.loads(load(inputs["encrypted_file_key"]))
        version, key = private_key(case)
        if {"A": "A", "RSA-4096": "RSA-4096/AES-256-GCM"}[version] != efk["version"]:
            return "version_mismatch"
        raw = key.decrypt(base64.b64decode(efk["key"]), oaep(version))
        k, iv, tag = plain_key(inputs["plain_file_key"])
        same = raw == k and base64.b64decode(efk["iv"]) == iv and base64.b64decode(efk["tag"]) == tag
        return "ok" if same else "invalid_file_key"
    if op in ("decrypt_file", "encrypt_file"):
        k, iv, tag = plain_key(inputs["plain_file_key"])
        ct = base64.b64decode(load(inputs["ciphertext_b64"]))
        try:
            pt = AESGCM(k).decrypt(iv, ct + tag, None)
        except InvalidTag:
            return "bad_file"
        if "plaintext_b64" in inputs and pt != base64.b64decode(load(inputs["plaintext_b64"])):
            return "bad_file"
        return "ok"
    if op == "parse_file_key":
        for name in ("plain_file_key", "encrypted_file_key"):
            if name in inputs:
                k = json.loads(load(inputs[name]))
                lengths = [len(base64.b64decode(k[f])) for f in ("iv", "tag")]
                if lengths != [12, 16]:
                    return "invalid_file_key"
        return "ok"
    return "unknown op " + op


manifest = json.loads(load("manifest.json"))
failures = 0
for case in manifest["cases"]:
    got = check(case)
    if got != case["expect"]:
        failures += 1
        print(f"MISMATCH {case['id']}: expected {case['expect']}, pyca says {got}")
print(f"pyca/cryptography cross-check: {len(manifest['cases'])} cases, {failures} mismatches")
sys.exit(1 if failures else 0)
