#!/bin/sh
# seeds.sh OUT: seed corpora for the fuzz target of the Makefile: the
# loaders' test files, and YAML built to hurt a parser (deep nesting, a
# file at the size cap, alias bombs, long scalars), each of which the
# loaders must refuse cleanly.  Writes OUT/seeds-fuzz_policy and
# OUT/seeds-fuzz_config; the growing corpora live next to them.
set -eu
out=${1:?usage: seeds.sh OUT}
for t in fuzz_policy fuzz_config fuzz_tsa_req fuzz_sign_req fuzz_wire; do
	mkdir -p "$out/seeds-$t" "$out/corpus-$t"
	# the kept corpus: inputs worth keeping (each a past finding or a
	# shape the decoder must handle)
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp tests/fuzz/corpus/"$t"/* "$out/seeds-$t/"
	fi
done
# time-stamp requests as openssl makes them, with and without options
printf 'seed document\n' >"$out/seed.txt"
for md in sha256 sha384 sha512 sha1 md5; do
	openssl ts -query -data "$out/seed.txt" "-$md" -cert \
		-out "$out/seeds-fuzz_tsa_req/$md.tsq" 2>/dev/null
	openssl ts -query -data "$out/seed.txt" "-$md" -no_nonce \
		-tspolicy 1.2.3.4 -out "$out/seeds-fuzz_tsa_req/$md-policy.tsq" 2>/dev/null
done
cp tests/data/policy/*.yaml config/policy.yaml "$out/seeds-fuzz_policy/"
cp tests/data/config/*.yaml "$out/seeds-fuzz_config/"

hostile=$out/hostile
mkdir -p "$hostile"
# 10000 levels of flow and of block nesting
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "["; print "" }' \
	> "$hostile/deep_flow.yaml"
awk 'BEGIN { for (i = 0; i < 2000; i++) { for (j = 0; j < i; j++) printf " "; printf "k%d:\n", i } }' \
	| head -c 250000 > "$hostile/deep_block.yaml"
# billion laughs
cat > "$hostile/alias_bomb.yaml" <<'Y'
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
keys: *f
Y
# a mapping with as many entries as fit under the cap, and one key too big
awk 'BEGIN { print "keys:"; for (i = 0; i < 20000; i++) printf "  k%d: {label: l}\n", i }' \
	| head -c 262144 > "$hostile/huge_mapping.yaml"
awk 'BEGIN { printf "keys: {k: {label: "; for (i = 0; i < 200000; i++) printf "l"; print "}}" }' \
	> "$hostile/long_scalar.yaml"
awk 'BEGIN { printf "keys: {"; for (i = 0; i < 30000; i++) printf "k%d: 1, ", i; print "}" }' \
	| head -c 262144 > "$hostile/huge_flow.yaml"
for t in fuzz_policy fuzz_config; do
	cp "$hostile"/*.yaml "$out/seeds-$t/"
done
