# shellcheck shell=bash
# t_startup.sh — what seald checks before it serves: the config file
# (file:line:column errors, exit 1), the PIN file's mode, the instance
# lock, the schema version, and that `seald migrate` can run twice.

W=$IT_DIR/t_startup
mkdir -p "$W"
SEALD=$IT_BUILD/seald

tid "--check-config accepts the test config and names the position of an error"
"$SEALD" --check-config -c "$IT_CONFIG" >/dev/null 2>&1 || fail "valid config refused"
sed 's/^instance: demo-1$/instance: demo-1\nsurprise: 1/' "$IT_CONFIG" >"$W/bad.yaml"
out=$("$SEALD" --check-config -c "$W/bad.yaml" 2>&1)
rc=$?
[ $rc = 1 ] || fail "exit $rc for an unknown key"
grep -q "bad.yaml:3:1: .*surprise" <<<"$out" || fail "message: $out"

# alt_config FILE INSTANCE PIN: the test config on another socket
alt_config() {
	sed -e "s|$IT_SOCK|$W/alt.sock|" -e "s|^instance: demo-1|instance: $2|" \
	    -e "s|$IT_DIR/admin.sock|$W/alt-admin.sock|" \
	    -e "s|pin_file: .*|pin_file: $3|" "$IT_CONFIG" >"$1"
}

tid "a PIN file readable by others stops seald at start (exit 3), naming the file"
cp "$IT_DIR/pin" "$W/pin-open"
chmod 0644 "$W/pin-open"
alt_config "$W/openpin.yaml" t-alt "$W/pin-open"
out=$(timeout 20 "$SEALD" -c "$W/openpin.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 3 ] || fail "exit $rc"
grep -q "pin-open: mode 0644 is too open" <<<"$out" || fail "message: $out"
grep -q "$(cat "$IT_DIR/pin")" <<<"$out" && fail "the PIN was printed"
[ -e "$W/alt.sock" ] && fail "it bound its socket anyway"

tid "a wrong PIN stops seald at start (exit 3) without printing it"
umask 077
printf 'wrong-pin-123\n' >"$W/pin-wrong"
alt_config "$W/wrongpin.yaml" t-alt "$W/pin-wrong"
out=$(timeout 20 "$SEALD" -c "$W/wrongpin.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 3 ] || fail "exit $rc: $out"
grep -q wrong-pin-123 <<<"$out" && fail "the PIN was printed"

tid "a second seald with the same instance name refuses to start (exit 4)"
if need_seald; then
	alt_config "$W/same.yaml" demo-1 "$IT_DIR/pin"
	out=$(timeout 20 "$SEALD" -c "$W/same.yaml" 2>&1 </dev/null)
	rc=$?
	[ $rc = 4 ] || fail "exit $rc: $(tail -n 2 <<<"$out")"
	grep -q 'instance "demo-1" is already running' <<<"$out" || fail "message: $out"
fi

tid "seald migrate is idempotent"
"$SEALD" migrate -c "$IT_CONFIG" >"$W/m.log" 2>&1 || fail "second migrate failed"
grep -q '0 migrations applied' "$W/m.log" || fail "log: $(cat "$W/m.log")"
[ "$(psql_q "select count(*) from schema_migrations")" -ge 1 ] || fail "no schema_migrations"

tid "seald refuses an unmigrated database (exit 4)"
psql_super "create database t_empty owner seald" >/dev/null || fail "createdb"
sed -e "s|dbname=seald|dbname=t_empty|" "$W/same.yaml" | sed "s|^instance: demo-1|instance: t-empty|" >"$W/empty.yaml"
out=$(timeout 20 "$SEALD" -c "$W/empty.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 4 ] || fail "exit $rc"
grep -q 'run `seald migrate`' <<<"$out" || fail "message: $out"

tid "a config or policy file that group or others may change stops seald (exit 1), naming the file"
alt_config "$W/gw.yaml" t-alt "$IT_DIR/pin"
chmod 0664 "$W/gw.yaml"
out=$(timeout 20 "$SEALD" -c "$W/gw.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 1 ] || fail "group-writable config: exit $rc"
grep -q "gw.yaml: mode 0664 lets group or others change it" <<<"$out" || fail "message: $out"
cp "$IT_DIR/policy.yaml" "$W/gw-policy.yaml"
chmod 0646 "$W/gw-policy.yaml"
alt_config "$W/gwp.yaml" t-alt "$IT_DIR/pin"
sed -i "s|^policy: .*|policy: $W/gw-policy.yaml|" "$W/gwp.yaml"
chmod 0600 "$W/gwp.yaml"
out=$(timeout 20 "$SEALD" -c "$W/gwp.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 1 ] || fail "world-writable policy: exit $rc"
grep -q "gw-policy.yaml: mode 0646 lets group or others change it" <<<"$out" || fail "message: $out"

tid "a PKCS#11 module outside the allowed folders is refused (exit 1), through a symbolic link too"
mkdir -p "$W/modules"
cp "$SEALD_P11_MODULE" "$W/libcopy.so"
ln -sf "$W/libcopy.so" "$W/modules/libsofthsm2.so"
alt_config "$W/mod.yaml" t-alt "$IT_DIR/pin"
sed -i "s|^  module: .*|  module: $W/libcopy.so|" "$W/mod.yaml"
out=$(timeout 20 "$SEALD" -c "$W/mod.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 1 ] || fail "module outside the default folders: exit $rc"
grep -q "pkcs11.module: $W/libcopy.so is not in an allowed folder" <<<"$out" || fail "message: $out"
sed -i -e "s|^  module: .*|  module: $W/modules/libsofthsm2.so\n  module_dirs: [$W/modules]|" "$W/mod.yaml"
out=$(timeout 20 "$SEALD" -c "$W/mod.yaml" 2>&1 </dev/null)
rc=$?
[ $rc = 1 ] || fail "a link out of module_dirs: exit $rc"
grep -q "$W/libcopy.so is not in an allowed folder" <<<"$out" || fail "message: $out"

tid "p11-kit's proxy module is refused: it loads modules from past module_dirs (a user's own p11-kit configuration too)"
PROXY=$(ls /usr/lib/*/p11-kit-proxy.so 2>/dev/null | head -n 1)
if [ -n "$PROXY" ]; then
	alt_config "$W/proxy.yaml" t-alt "$IT_DIR/pin"
	sed -i "s|^  module: .*|  module: $PROXY|" "$W/proxy.yaml"
	# what the proxy would load: a module of this user's own
	# configuration, from a folder outside module_dirs
	mkdir -p "$W/home/.config/pkcs11/modules"
	printf 'module: %s\n' "$W/libcopy.so" >"$W/home/.config/pkcs11/modules/escape.module"
	out=$(HOME=$W/home timeout 20 "$SEALD" -c "$W/proxy.yaml" 2>&1 </dev/null)
	rc=$?
	[ $rc = 3 ] || fail "the proxy module: exit $rc: $(tail -n 2 <<<"$out")"
	grep -q "is p11-kit's proxy module, which loads the modules" <<<"$out" || fail "message: $out"
else
	skip "no p11-kit-proxy.so here"
fi

tid "run_as root is refused, and a socket another process serves is never taken over"
alt_config "$W/root.yaml" t-alt "$IT_DIR/pin"
printf 'run_as: {user: root}\n' >>"$W/root.yaml"
out=$("$SEALD" --check-config -c "$W/root.yaml" 2>&1)
grep -q "run_as: a user other than root" <<<"$out" || fail "run_as root: $out"
if need_seald; then
	sed -e "s|^instance: demo-1|instance: t-steal|" "$IT_CONFIG" >"$W/steal.yaml"
	out=$(timeout 20 "$SEALD" -c "$W/steal.yaml" 2>&1 </dev/null)
	rc=$?
	[ $rc = 5 ] || fail "exit $rc: $(tail -n 2 <<<"$out")"
	grep -q "seald.sock is served by another process" <<<"$out" || fail "message: $out"
	http_req GET /healthz && expect_code 200 "the shared seald after the attempt"
	# nor is its admin socket removed on the way out (it was, and every
	# later officer's call got "Couldn't connect")
	[ -S "$IT_DIR/admin.sock" ] || fail "the refused start removed the shared seald's admin socket"
fi
