# shellcheck shell=bash
# t_libp11.sh — why seald speaks PKCS#11 itself instead of through libp11
# (docs/hsm.md, "libp11"): on a token of its own, libp11 (through
# OpenSSL's pkcs11 engine, the only user of libp11 here: tools/envlib.sh
# makes the demo certificates with it) reads an EC public key, then no
# longer once an Ed25519 key is on the token too; seald signs on the test
# token, which holds such a key.  When a libp11 release reads it, this
# test fails so that the choice is made again.

need_seald || return 0
L=$IT_DIR/libp11
mkdir -p "$L/tokens"
tid "libp11 fails as a whole on a token with a key type it does not know; seald does not"
ver=$(dpkg-query -W -f='${Version}' libp11-3 2>/dev/null || echo unknown)
note "libp11 $ver"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$L/tokens" >"$L/softhsm2.conf"
# p11 ARGS...: pkcs11-tool on the test's own token (a throwaway PIN)
p11() { SOFTHSM2_CONF=$L/softhsm2.conf pkcs11-tool --module "$SEALD_P11_MODULE" --token-label libp11 --login --pin 1234 "$@"; }
# engine_reads: libp11 reads the EC key's public half
engine_reads() {
	SOFTHSM2_CONF=$L/softhsm2.conf PKCS11_MODULE_PATH=$SEALD_P11_MODULE \
	    openssl pkey -engine pkcs11 -inform engine -pubin -pubout \
	    -in "pkcs11:token=libp11;object=k-ec;type=public" -out "$L/ec.pub" \
	    </dev/null >>"$L/engine.log" 2>&1
}
SOFTHSM2_CONF=$L/softhsm2.conf softhsm2-util --init-token --free --label libp11 --pin 1234 --so-pin 5678 >"$L/setup.log" 2>&1 &&
	p11 --keypairgen --key-type EC:prime256v1 --label k-ec --id 01 >>"$L/setup.log" 2>&1 ||
	fail "token: $(tail -n 2 "$L/setup.log")"
engine_reads || fail "libp11 does not read the EC key even alone: $(tail -n 2 "$L/engine.log")"
p11 --keypairgen --key-type EC:edwards25519 --label k-ed --id 02 >>"$L/setup.log" 2>&1 ||
	fail "Ed25519: $(tail -n 2 "$L/setup.log")"
rc=0
engine_reads 2>/dev/null || rc=$?
if [ "$rc" = 0 ]; then
	fail "libp11 $ver reads the EC key beside an Ed25519 key: revisit docs/hsm.md (libp11)"
else
	note "beside an Ed25519 key, libp11: $(grep -m1 -viE '^engine|^$' "$L/engine.log" | cut -c1-100) (exit $rc$([ "$rc" = 139 ] && echo ', a segmentation fault'))"
fi
hsm_has_object "$IT_DIR" privkey seald-foreign-ed25519 || fail "the test token holds no Ed25519 key"
sign_json demo-ec "$(digest_b64 sha256 libp11)" sha256 "t-libp11-$RANDOM"
expect_code 200 "seald signs with seald-demo-ec beside one"
