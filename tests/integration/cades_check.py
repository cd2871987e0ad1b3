"""cades_check.py SEAL.p7s OUTDIR — a CAdES-B-T seal read by a second,
independent ASN.1 stack (asn1crypto, Debian's python3-asn1crypto; not
OpenSSL): the signer's one unsigned attribute signature_time_stamp_token
must be an RFC 3161 token whose imprint is the hash of the signer's
signature value, and whose genTime is not before the seal's
signing-time.  Writes OUTDIR/token.der and OUTDIR/sigvalue.bin for the
other tools, prints "serial HEX", "gen_time ISO" and "signing_time ISO",
and exits 1 with the reason when a check fails.

Run it with Debian's /usr/bin/python3 (where the package installs).
"""
import hashlib
import sys

from asn1crypto import cms, core
from asn1crypto import tsp


def fail(why):
    print("FAIL " + why)
    sys.exit(1)


def main():
    seal, out = sys.argv[1], sys.argv[2]
    with open(seal, "rb") as f:
        ci = cms.ContentInfo.load(f.read(), strict=True)
    if ci["content_type"].native != "signed_data":
        fail("not a SignedData")
    sd = ci["content"]
    if sd["encap_content_info"]["content"].native is not None:
        fail("not detached")
    if len(sd["signer_infos"]) != 1:
        fail("not one signer")
    si = sd["signer_infos"][0]
    ua = si["unsigned_attrs"]
    stamps = [a for a in (ua if ua.native is not None else [])
              if a["type"].native == "signature_time_stamp_token"]
    if len(stamps) != 1 or len(stamps[0]["values"]) != 1:
        fail("not one signature-time-stamp attribute with one value")
    token = stamps[0]["values"][0]
    if token["content_type"].native != "signed_data":
        fail("the token is not a SignedData")
    tsd = token["content"]
    if tsd["encap_content_info"]["content_type"].native != "tst_info":
        fail("the token does not hold a TSTInfo")
    # eContent: an OCTET STRING holding the DER TSTInfo (taken as ANY
    # inside an attribute's value)
    c = tsd["encap_content_info"]["content"]
    octets = c.parsed if isinstance(c, core.Any) else c
    tst = tsp.TSTInfo.load(bytes(octets.contents), strict=True)
    sigvalue = si["signature"].native
    imprint = tst["message_imprint"]
    alg = imprint["hash_algorithm"]["algorithm"].native
    if alg not in ("sha256", "sha384", "sha512"):
        fail("imprint algorithm " + alg)
    if imprint["hashed_message"].native != hashlib.new(alg, sigvalue).digest():
        fail("the imprint is not the hash of the signature value")
    signing = None
    for a in si["signed_attrs"]:
        if a["type"].native == "signing_time":
            signing = a["values"][0].native
    if signing is None:
        fail("no signing-time")
    gen = tst["gen_time"].native
    if gen < signing.replace(microsecond=0):
        fail("genTime %s is before signing-time %s" % (gen, signing))
    with open(out + "/token.der", "wb") as f:
        f.write(token.dump())
    with open(out + "/sigvalue.bin", "wb") as f:
        f.write(sigvalue)
    print("serial %x" % tst["serial_number"].native)
    print("gen_time " + gen.isoformat())
    print("signing_time " + signing.isoformat())


main()
