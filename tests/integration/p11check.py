#!/usr/bin/env python3
"""p11check.py MODULE PIN_FILE TOKEN_LABEL KEY_LABEL...

An independent look at keys seald generated: straight PKCS#11 through
ctypes (no seald code), logged in as the user.  For each label, the private
key must be sensitive and never extractable, private, allowed to sign and
nothing else, and the token must refuse every attempt to read its secret
values (CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1).  Prints one line per
problem; exit 0 when there are none, 1 otherwise, 2 on a PKCS#11 failure.
"""
import ctypes as C
import sys

UL = C.c_ulong
UNAVAILABLE = C.c_ulong(-1).value

CKA = dict(CLASS=0x0, PRIVATE=0x2, LABEL=0x3, VALUE=0x11, SENSITIVE=0x103,
           DECRYPT=0x105, UNWRAP=0x107, SIGN=0x108, DERIVE=0x10C,
           PRIVATE_EXPONENT=0x123, PRIME_1=0x124, EXTRACTABLE=0x162,
           NEVER_EXTRACTABLE=0x164, ALWAYS_SENSITIVE=0x165)
WANT = dict(PRIVATE=True, SENSITIVE=True, ALWAYS_SENSITIVE=True,
            EXTRACTABLE=False, NEVER_EXTRACTABLE=True, SIGN=True,
            DECRYPT=False, UNWRAP=False, DERIVE=False)
SECRETS = ("VALUE", "PRIVATE_EXPONENT", "PRIME_1")
CKO_PRIVATE_KEY = 3


class Attr(C.Structure):
    _fields_ = [("type", UL), ("pValue", C.c_void_p), ("ulValueLen", UL)]


def ck(rv, what):
    if rv != 0:
        print(f"p11check: {what}: 0x{rv:x}")
        sys.exit(2)


def slot_of(lib, token):
    slots = (UL * 16)()
    n = UL(16)
    ck(lib.C_GetSlotList(1, slots, C.byref(n)), "C_GetSlotList")
    for i in range(n.value):
        info = C.create_string_buffer(512)  # CK_TOKEN_INFO starts with label
        ck(lib.C_GetTokenInfo(UL(slots[i]), info), "C_GetTokenInfo")
        if info.raw[:32].decode("utf-8", "replace").rstrip() == token:
            return slots[i]
    print(f"p11check: no token labelled {token}")
    sys.exit(2)


def private_keys(lib, s, label):
    lab = label.encode()
    cls = UL(CKO_PRIVATE_KEY)
    t = (Attr * 2)(Attr(CKA["CLASS"], C.cast(C.byref(cls), C.c_void_p),
                        C.sizeof(cls)),
                   Attr(CKA["LABEL"], C.cast(C.c_char_p(lab), C.c_void_p),
                        len(lab)))
    ck(lib.C_FindObjectsInit(s, t, UL(2)), "C_FindObjectsInit")
    objs = (UL * 4)()
    n = UL(0)
    ck(lib.C_FindObjects(s, objs, UL(4), C.byref(n)), "C_FindObjects")
    lib.C_FindObjectsFinal(s)
    return list(objs[:n.value])


def get(lib, s, o, name):
    """(rv, bytes or None)"""
    buf = C.create_string_buffer(4096)
    a = Attr(CKA[name], C.cast(buf, C.c_void_p), 4096)
    rv = lib.C_GetAttributeValue(s, UL(o), C.byref(a), UL(1))
    if rv != 0 or a.ulValueLen == UNAVAILABLE:
        return rv, None
    return rv, buf.raw[:a.ulValueLen]


def check(lib, s, label):
    problems = []
    keys = private_keys(lib, s, label)
    if len(keys) != 1:
        return [f"{label}: {len(keys)} private keys with this label"]
    o = keys[0]
    for name, want in WANT.items():
        _, v = get(lib, s, o, name)
        if v is None or len(v) != 1 or bool(v[0]) != want:
            problems.append(f"{label}: CKA_{name} is {v!r}, want {want}")
    for name in SECRETS:
        _, v = get(lib, s, o, name)
        if v is not None:
            problems.append(f"{label}: the token handed out CKA_{name} "
                            f"({len(v)} bytes)")
    return problems


def main():
    if len(sys.argv) < 5:
        print(__doc__.strip().splitlines()[0])
        sys.exit(2)
    lib = C.CDLL(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        pin = f.read().strip()
    ck(lib.C_Initialize(None), "C_Initialize")
    s = UL(0)
    ck(lib.C_OpenSession(UL(slot_of(lib, sys.argv[3])), UL(4), None, None,
                         C.byref(s)), "C_OpenSession")
    ck(lib.C_Login(s, UL(1), pin, UL(len(pin))), "C_Login")
    problems = []
    for label in sys.argv[4:]:
        problems += check(lib, s, label)
    lib.C_Logout(s)
    lib.C_CloseSession(s)
    lib.C_Finalize(None)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


main()
