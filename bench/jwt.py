#!/usr/bin/env python3
"""Signs the benchmark's JWTs with the standard library and the openssl command (no new dependency).

Usage:
  bench/jwt.py hs256 SECRET_FILE KID [--ttl SECONDS] [--sub SUB]
  bench/jwt.py es256 PRIVATE_KEY_PEM KID [--ttl SECONDS] [--sub SUB]

Prints the compact token on stdout. The secret file is read as bytes with trailing newlines removed,
as mobile-bff's secret_file does, so both sides hold the same key.
"""
import argparse
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def der_length(der: bytes, at: int) -> tuple[int, int]:
    """The DER length at `at` and the offset just after it."""
    first = der[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(der[at + 1:at + 1 + count], "big"), at + 1 + count


def ecdsa_der_to_raw(der: bytes, size: int) -> bytes:
    """openssl writes ECDSA-Sig-Value (SEQUENCE { INTEGER r, INTEGER s }); JOSE (RFC 7518 3.4) and
    WebCrypto want r and s as fixed-size big-endian numbers, one after the other."""
    if der[0] != 0x30:
        raise ValueError("ECDSA signature from openssl is not a DER SEQUENCE")
    _, at = der_length(der, 1)
    parts = []
    for _ in range(2):
        if der[at] != 0x02:
            raise ValueError("ECDSA signature from openssl lacks an INTEGER")
        length, at = der_length(der, at + 1)
        parts.append(int.from_bytes(der[at:at + length], "big").to_bytes(size, "big"))
        at += length
    return parts[0] + parts[1]


def main() -> int:
    parser = argparse.ArgumentParser(description="Sign a benchmark JWT (HS256 or ES256).")
    parser.add_argument("alg", choices=["hs256", "es256"])
    parser.add_argument("key", help="HS256: the secret file; ES256: the P-256 private key PEM")
    parser.add_argument("kid")
    parser.add_argument("--ttl", type=int, default=6 * 3600, help="seconds until exp (default 6 h)")
    parser.add_argument("--sub", default="bench-user")
    args = parser.parse_args()

    now = int(time.time())
    header = {"alg": args.alg.upper(), "typ": "JWT", "kid": args.kid}
    claims = {"sub": args.sub, "iat": now, "exp": now + args.ttl}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())).encode("ascii")

    if args.alg == "hs256":
        with open(args.key, "rb") as f:
            secret = f.read().rstrip(b"\r\n")
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    else:
        signed = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                                input=signing_input, capture_output=True)
        if signed.returncode != 0:
            sys.stderr.write(f"jwt.py: openssl could not sign with {args.key}: {signed.stderr.decode(errors='replace').strip()}\n"
                             "  give a P-256 private key PEM, e.g. from: openssl ecparam -name prime256v1 -genkey -noout -out key.pem\n")
            return 1
        signature = ecdsa_der_to_raw(signed.stdout, 32)

    print(signing_input.decode("ascii") + "." + b64url(signature))
    return 0


if __name__ == "__main__":
    sys.exit(main())
