# shellcheck shell=bash
# t_key_algs.sh — the officer's walk of docs/keys.md, with sealctl alone,
# for each algorithm (EC P-256, P-384, RSA 2048, 3072, 4096): generate in
# the HSM, CSR, certificate from a CA, import, a CMS seal that openssl
# verifies; then rotate, certify the new version, seal again with it (the
# old seal still verifies), disable the old version.  Every step is a
# ledger entry and the chain verifies.

need_seald || return 0
W=$IT_DIR/t_key_algs
mkdir -p "$W"
SC=("$IT_BUILD/sealctl" -a "$IT_DIR/admin.sock")
ALGS="ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes \
    -keyout "$W/ca.key" -out "$W/ca.pem" -subj "/CN=algs CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null

# a managed key per algorithm, for the local client, put back at the end
cp "$IT_DIR/policy.yaml" "$W/original.yaml"
: >"$W/keys.yaml"
names=""
for a in $ALGS; do
	printf '  alg-%s:\n    managed: true\n    algorithm: %s\n    formats: [raw, cms]\n' "$a" "$a" >>"$W/keys.yaml"
	names="$names, alg-$a"
done
sed -e "/^keys:/r $W/keys.yaml" -e "s/\(- keys: \[.*\)qerds-seal/\1qerds-seal$names/" \
    "$W/original.yaml" >"$W/policy.yaml"
policy_reload "$W/policy.yaml"

# certify NAME VERSION: sealctl key csr, the CA's certificate, sealctl key import-cert
certify() {
	local out
	"${SC[@]}" key csr "$1" --version "$2" --subject "/O=seald tests/CN=$1 v$2" \
	    --out "$W/$1-$2.csr" 2>"$W/err" || { fail "$1 v$2: csr: $(cat "$W/err")"; return 1; }
	openssl x509 -req -in "$W/$1-$2.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
	    -CAcreateserial -days 30 -copy_extensions copy -out "$W/$1-$2.pem" 2>/dev/null &&
	    cat "$W/$1-$2.pem" "$W/ca.pem" >"$W/$1-$2.chain"
	out=$("${SC[@]}" key import-cert "$1" "$W/$1-$2.chain" --version "$2" 2>&1) ||
		{ fail "$1 v$2: import-cert: $out"; return 1; }
}

# seal NAME DOC: a CMS seal of DOC with sealctl sign, verified by openssl;
# prints the key version that sealed it
seal() {
	local out
	out=$("$IT_BUILD/sealctl" -s "$IT_SOCK" sign --key "$1" --file "$2" --format cms \
	    --out-sig "$2.p7s" 2>&1) || { fail "$1: sign: $out"; return 1; }
	openssl cms -verify -binary -inform DER -in "$2.p7s" -content "$2" \
	    -CAfile "$W/ca.pem" -out /dev/null 2>"$W/err" ||
		{ fail "$1: openssl cms -verify: $(cat "$W/err")"; return 1; }
	jq -r .key_version <<<"$out"
}

for a in $ALGS; do
	k=alg-$a
	tid "$a: generate, CSR, certificate, seal; rotate, certify, seal; disable the old version"
	out=$("${SC[@]}" key generate "$k" --algorithm "$a" 2>&1) || { fail "generate: $out"; continue; }
	certify "$k" 1 || continue
	printf 'evidence sealed with %s v1\n' "$k" >"$W/$k-1.txt"
	[ "$(seal "$k" "$W/$k-1.txt")" = 1 ] || fail "$k: the first seal is not by v1"
	out=$("${SC[@]}" key rotate "$k" 2>&1) || { fail "rotate: $out"; continue; }
	grep -q "^rotated $k: v2 ($a) pending its certificate" <<<"$out" || fail "rotate said: $out"
	certify "$k" 2 || continue
	printf 'evidence sealed with %s v2\n' "$k" >"$W/$k-2.txt"
	[ "$(seal "$k" "$W/$k-2.txt")" = 2 ] || fail "$k: the seal after the rotation is not by v2"
	openssl cms -verify -binary -inform DER -in "$W/$k-1.txt.p7s" -content "$W/$k-1.txt" \
	    -CAfile "$W/ca.pem" -out /dev/null 2>/dev/null || fail "$k: the v1 seal no longer verifies"
	out=$("${SC[@]}" key disable "$k" --version 1 2>&1) || fail "disable v1: $out"
	"${SC[@]}" key list | grep -Eq "^$k +2 +$a +active " || fail "list: $("${SC[@]}" key list 2>&1)"
	got=$(psql_q "select string_agg(format || key_version, ' ' order by seq) from ledger_entries
	    where kind = 'key' and key_name = '$k'")
	[ "$got" = "generate1 csr1 certificate1 generate2 csr2 certificate2 disable1" ] ||
		fail "$k: ledger events: $got"
done

tid "the chain with every officer's step verifies"
out=$("$IT_BUILD/sealctl" ledger verify --db "$(pg_conninfo "$IT_DIR" seald)" 2>&1) ||
	fail "ledger verify: $out"
policy_reload "$W/original.yaml"
