"""The other side of the SD-JWT interop test, with the IETF reference implementation (PyPI
`sd-jwt`).

  interop.py verify FILE   FILE is JSON {"presentation", "issuer_jwk", "aud", "nonce",
                           "kb_alg"}: prints the verified payload as JSON.
  interop.py issue         issues an SD-JWT VC with an Ed25519 issuer key and a P-256 holder
                           key, presents given_name and address.locality to aud "urbis" with
                           nonce "n-42", prints JSON {"presentation", "issuer_jwk"}.
"""
import json
import sys
import time

from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier


def verify(path):
    with open(path) as f:
        job = json.load(f)
    alg = job["kb_alg"]

    class Verifier(SDJWTVerifier):
        # sd-jwt 0.10.4 checks the KB-JWT with ES256 unless told otherwise.
        def _verify_key_binding_jwt(self, expected_aud=None, expected_nonce=None, sign_alg=None):
            return super()._verify_key_binding_jwt(expected_aud, expected_nonce, sign_alg=alg)

    def issuer_key(iss, header):
        assert header["typ"] == "dc+sd-jwt", header
        return JWK(**job["issuer_jwk"])

    v = Verifier(
        job["presentation"],
        issuer_key,
        expected_aud=job["aud"],
        expected_nonce=job["nonce"],
        serialization_format="compact",
    )
    print(json.dumps(v.get_verified_payload()))


def issue():
    issuer_key = JWK.generate(kty="OKP", crv="Ed25519")
    holder_key = JWK.generate(kty="EC", crv="P-256")
    claims = {
        "iss": "did:urbis:python-issuer",
        "iat": int(time.time()),
        "vct": "urn:urbis:resident",
        SDObj("given_name"): "Ana",
        SDObj("family_name"): "Peeters",
        "address": {SDObj("locality"): "Ghent", SDObj("street_address"): "Veldstraat 1"},
    }
    issued = SDJWTIssuer(
        claims,
        issuer_key,
        holder_key=holder_key,
        sign_alg="EdDSA",
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    holder = SDJWTHolder(issued.sd_jwt_issuance)
    holder.create_presentation(
        {"given_name": True, "address": {"locality": True}},
        nonce="n-42",
        aud="urbis",
        holder_key=holder_key,
        sign_alg="ES256",
    )
    print(
        json.dumps(
            {
                "presentation": holder.sd_jwt_presentation,
                "issuer_jwk": issuer_key.export_public(as_dict=True),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2])
    elif sys.argv[1] == "issue":
        issue()
    else:
        sys.exit("usage: interop.py verify FILE | issue")
