"""Throughput and unlock time through the binding, beside pyca/cryptography doing the same work,
and the Rust API's own GCM throughput at the same update size (examples/gcm_throughput.rs).

    bindings/python/.venv-ci/bin/pip install cryptography
    bindings/python/.venv-ci/bin/python bindings/python/bench.py

Streaming: 512 MiB per run in 1 MiB updates through one reused input buffer, best of five.
Unlock: a private key in the current profile (PBKDF2-HMAC-SHA1, 1,300,000 iterations), best of
five; pyca derives the 32-byte key alone (less work than a whole unlock).
"""

import json
import os
import pathlib
import subprocess
import time

import dracoon_crypto as dc

MIB = 1 << 20
TOTAL = 512 * MIB
UPDATE = MIB
REPO = pathlib.Path(__file__).resolve().parents[2]


def best(f, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def gbps(seconds):
    return TOTAL / seconds / 1e9


def ours():
    buf = os.urandom(UPDATE)
    rounds = TOTAL // UPDATE

    def enc():
        e = dc.Encryptor()
        for _ in range(rounds):
            e.update(buf)
        e.finalize()

    _, key = dc.encrypt(b"")

    def dec():
        d = dc.Decryptor(key)
        for _ in range(rounds):
            d.update(buf)
        try:
            d.finalize()
        except dc.BadFile:
            pass  # one buffer looped: the tag cannot verify; checking costs the same

    return gbps(best(enc)), gbps(best(dec))


def pyca():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    buf = os.urandom(UPDATE)
    rounds = TOTAL // UPDATE
    key, iv = os.urandom(32), os.urandom(12)

    def enc():
        e = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        for _ in range(rounds):
            e.update(buf)
        e.finalize()

    def dec():
        d = Cipher(algorithms.AES(key), modes.GCM(iv, b"\0" * 16)).decryptor()
        for _ in range(rounds):
            d.update(buf)
        try:
            d.finalize()
        except Exception:
            pass

    return gbps(best(enc)), gbps(best(dec))


def rust():
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--example", "gcm_throughput", "--", str(UPDATE), "512"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    return float(out[1]), float(out[4])


def unlock():
    password = "bench-Pa55word!"
    kp_json = dc.keygen("RSA-4096", password)
    ours = best(lambda: dc.KeyPair.unlock(kp_json, password))
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt = os.urandom(20)
    theirs = best(
        lambda: PBKDF2HMAC(hashes.SHA1(), 32, salt, 1_300_000).derive(password.encode())
    )
    return ours, theirs


def main():
    r_enc, r_dec = rust()
    o_enc, o_dec = ours()
    p_enc, p_dec = pyca()
    u_ours, u_pyca = unlock()
    rows = [
        ("GCM encrypt, 1 MiB updates", f"{o_enc:.2f} GB/s", f"{p_enc:.2f} GB/s", f"{r_enc:.2f} GB/s", f"{o_enc / r_enc:.2f}"),
        ("GCM decrypt, 1 MiB updates", f"{o_dec:.2f} GB/s", f"{p_dec:.2f} GB/s", f"{r_dec:.2f} GB/s", f"{o_dec / r_dec:.2f}"),
        ("unlock (1,300,000 iterations)", f"{u_ours * 1e3:.0f} ms", f"{u_pyca * 1e3:.0f} ms (PBKDF2 alone)", "", ""),
    ]
    print("| | binding | pyca/cryptography | Rust API | binding / Rust |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(json.dumps({"unlock_ratio_binding_over_pyca": round(u_ours / u_pyca, 2)}))


if __name__ == "__main__":
    main()
