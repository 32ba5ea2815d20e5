#!/usr/bin/python3
# Test tokens for the JWT tests, made by PyJWT (python3-jwt), an implementation independent of the
# libjwt that reflex verifies with. Run by Debian's /usr/bin/python3 (it sees python3-jwt).
#   make_jwt.py keys DIR    writes DIR/private.pem, DIR/public.pem (RSA 2048) and DIR/other.pem
#                           (another key pair's public key)
#   make_jwt.py tokens      reads a JSON array of {"alg", "key" (a file), "claims", "headers"?}
#                           on stdin and prints one token per line; alg "none" needs no key, alg
#                           "HS256-with-file" signs HS256 with the file's bytes as they are, as
#                           a forger holding only a public key would (PyJWT refuses to); a
#                           "payload" (text) instead of "claims" is signed as it is
import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keys(directory):
    def pair():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    key, other = pair(), pair()
    with open(directory + "/private.pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    for name, k in (("public.pem", key), ("other.pem", other)):
        with open(directory + "/" + name, "wb") as f:
            f.write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))


def token(spec):
    claims, headers = spec.get("claims"), spec.get("headers")
    alg = spec["alg"]
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none", headers=headers)
    with open(spec["key"], "rb") as f:
        key = f.read()
    if alg == "HS256-with-file":
        signed = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
            b64(json.dumps(claims).encode())
        return signed + "." + b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())
    if alg.startswith("HS"):
        key = key.rstrip(b"\n")
    if "payload" in spec:
        return jwt.api_jws.encode(spec["payload"].encode(), key, algorithm=alg, headers=headers)
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


if sys.argv[1] == "keys":
    keys(sys.argv[2])
else:
    for spec in json.load(sys.stdin):
        print(token(spec))
