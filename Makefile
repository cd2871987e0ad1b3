# seald — plain Makefile.  `make` builds, `make run` starts a local demo,
# `make check` runs every test.  SANITIZE=address,undefined builds with
# sanitizers into a separate folder.

CC ?= cc
SANITIZE ?=
BUILD := build$(if $(SANITIZE),-san)

PKGS := libmicrohttpd jansson yaml-0.1 libpq openssl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
P11_CFLAGS = $(shell pkg-config --cflags p11-kit-1 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough
HARDEN := -fstack-protector-strong -fstack-clash-protection -fPIE
ifeq ($(SANITIZE),)
OPT := -O2 -g -D_FORTIFY_SOURCE=2
else
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -Icommon -Iconfig -Ihsm \
	-Ipolicy -Iledger -Ievidence -Idaemon -Itests/unit -I$(BUILD) $(PKG_CFLAGS) $(P11_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(if $(SANITIZE),-fsanitize=$(SANITIZE))
LIBS := $(PKG_LIBS) -lpthread -ldl

COMMON_SRC := common/err.c common/log.c common/b64.c common/secret.c common/path.c common/metrics.c \
	common/clock.c common/queue.c common/canon.c
CFG_SRC := config/cfg.c config/cfg_yaml.c common/name.c
POLICY_SRC := policy/policy.c policy/policy_load.c policy/ratelimit.c
HSM_SRC := hsm/hsm.c hsm/hsm_pool.c hsm/hsm_pubkey.c hsm/hsm_keygen.c
LEDGER_SRC := ledger/ledger.c ledger/ledger_session.c ledger/ledger_insert.c ledger/ledger_write.c \
	ledger/ledger_pq.c ledger/ledger_request.c ledger/ledger_batch.c \
	ledger/ledger_hash.c ledger/ledger_verify.c \
	ledger/ledger_checkpoint.c ledger/merkle.c ledger/ledger_merkle.c \
	ledger/ledger_read.c ledger/ledger_json.c \
	ledger/ledger_keys.c ledger/ledger_record.c ledger/migrate.c $(BUILD)/migrations.c
EVIDENCE_SRC := evidence/cms.c evidence/tsa.c evidence/csr.c
DAEMON_SRC := daemon/main.c daemon/core.c daemon/core_jobs.c daemon/core_chan.c daemon/keeper.c \
	daemon/fcmsg.c common/wire.c common/wire_io.c daemon/sign_req.c daemon/signer.c daemon/inflight.c daemon/keys.c \
	daemon/pstate.c \
	daemon/reply.c daemon/peer.c daemon/http.c daemon/admin.c daemon/keyops.c daemon/keyops_util.c daemon/keylife.c daemon/privdrop.c daemon/rlimits.c daemon/gauges.c daemon/notify.c
SEALD_SRC := $(COMMON_SRC) $(CFG_SRC) $(POLICY_SRC) $(HSM_SRC) $(LEDGER_SRC) $(EVIDENCE_SRC) \
	$(DAEMON_SRC)
# seald-front: the process that parses client bytes (no HSM, no libpq)
FRONT_SRC := daemon/front_main.c daemon/front.c daemon/core_client.c daemon/sandbox.c \
	daemon/fcmsg.c common/wire.c common/wire_io.c \
	daemon/http.c daemon/peer.c daemon/sign_req.c evidence/tsa.c evidence/cms.c common/name.c \
	common/err.c common/log.c common/b64.c common/canon.c common/secret.c common/clock.c
FRONT_LIBS := $(shell pkg-config --libs libmicrohttpd jansson openssl libseccomp 2>/dev/null) -lpthread
SEALCTL_SRC := tools/sealctl.c tools/sealctl_key.c tools/sealctl_prove.c tools/sealctl_tsa.c \
	tools/sealctl_verify.c $(EVIDENCE_SRC) common/err.c common/b64.c common/log.c \
	common/clock.c common/queue.c common/secret.c common/canon.c common/metrics.c $(POLICY_SRC) \
	config/cfg_yaml.c common/name.c $(LEDGER_SRC)

comma := ,
obj = $(patsubst %.c,$(BUILD)/%.o,$(patsubst $(BUILD)/%,%,$(1)))

UNIT_TESTS := test_err test_wire test_b64 test_cfg test_sign_req test_ledger_hash test_queue \
	test_policy test_ratelimit test_merkle test_cms test_tsa test_secret test_path test_csr \
	test_peer test_inflight test_wire_io
test_cms_SRC := tests/unit/test_cms.c tests/unit/softkey.c evidence/cms.c common/err.c
test_tsa_SRC := tests/unit/test_tsa.c tests/unit/softkey.c evidence/tsa.c evidence/cms.c common/err.c
test_csr_SRC := tests/unit/test_csr.c tests/unit/softkey.c evidence/csr.c evidence/cms.c common/err.c
test_merkle_SRC := tests/unit/test_merkle.c ledger/merkle.c
test_secret_SRC := tests/unit/test_secret.c common/secret.c common/log.c common/err.c
test_path_SRC := tests/unit/test_path.c common/path.c common/err.c
test_queue_SRC := tests/unit/test_queue.c common/queue.c common/clock.c common/err.c
# the front/core messages and what they need
FCMSG_SRC := common/wire.c common/wire_io.c daemon/fcmsg.c daemon/sign_req.c evidence/tsa.c evidence/cms.c common/name.c common/err.c \
	common/b64.c common/canon.c
test_wire_SRC := tests/unit/test_wire.c $(FCMSG_SRC)
test_wire_io_SRC := tests/unit/test_wire_io.c common/wire.c common/wire_io.c
test_peer_SRC := tests/unit/test_peer.c daemon/peer.c
test_inflight_SRC := tests/unit/test_inflight.c daemon/inflight.c common/clock.c
test_b64_SRC := tests/unit/test_b64.c common/b64.c common/err.c
test_ledger_hash_SRC := tests/unit/test_ledger_hash.c ledger/ledger_hash.c common/canon.c
test_err_SRC := tests/unit/test_err.c common/err.c
test_cfg_SRC := tests/unit/test_cfg.c tests/unit/expect.c $(CFG_SRC) common/err.c common/log.c
test_policy_SRC := tests/unit/test_policy.c tests/unit/expect.c policy/policy.c policy/policy_load.c \
	config/cfg_yaml.c common/name.c common/err.c
test_ratelimit_SRC := tests/unit/test_ratelimit.c policy/ratelimit.c common/err.c
test_sign_req_SRC := tests/unit/test_sign_req.c daemon/sign_req.c common/name.c common/err.c common/b64.c common/canon.c

.PHONY: all deps run check check-build unit integration lint format clean fuzz fuzz-deps bench valgrind \
	install deb stress
all: $(BUILD)/seald $(BUILD)/seald-front $(BUILD)/sealctl

$(BUILD)/seald: $(call obj,$(SEALD_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/seald-front: $(call obj,$(FRONT_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(FRONT_LIBS)

$(BUILD)/sealctl: $(call obj,$(SEALCTL_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs libcurl 2>/dev/null)

# seald-bench: the load tool of `make bench` (tools/bench.c)
BENCH_SRC := tools/bench.c tools/bench_cpu.c $(COMMON_SRC) $(HSM_SRC) $(LEDGER_SRC)
$(BUILD)/seald-bench: $(call obj,$(BENCH_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/migrations.c: $(sort $(wildcard migrations/*.sql)) tools/embed-sql.sh
	@mkdir -p $(BUILD)
	sh tools/embed-sql.sh $(sort $(wildcard migrations/*.sql)) > $@.tmp && mv $@.tmp $@

$(BUILD)/migrations.o: $(BUILD)/migrations.c
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

define unit_rule
$(BUILD)/tests/$(1): $$(call obj,$$($(1)_SRC))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

deps:
	@sh packaging/install-deps.sh

run: deps all
	@sh tools/devenv.sh run $(BUILD)

# bench: seald against the raw PKCS#11 rate of the same key, in one run
# (tools/bench.sh; BENCH_CLIENTS, BENCH_SECONDS, BENCH_KEY, BENCH_FORMAT)
bench: deps all $(BUILD)/seald-bench
	@bash tools/bench.sh $(BUILD)

# check: install what is needed, then every unit and integration test,
# on the plain build and again on the sanitizer build (CI runs both),
# CHECK_VALGRIND_TESTS with seald under valgrind, and a fuzz smoke (each
# libFuzzer harness CHECK_FUZZ_SECONDS), printing a cmocka summary per
# runner and one "N passed, N failed" line at the end.  Setting
# CHECK_SANITIZE, CHECK_VALGRIND_TESTS or CHECK_FUZZ_SECONDS empty skips
# that pass.
CHECK_SANITIZE ?= address,undefined
CHECK_VALGRIND_TESTS ?= sign tsa cms bad_input idempotent auth policy sealctl \
	key_life ledger_down hsm_fault
CHECK_FUZZ_SECONDS ?= 60
check: $(if $(CHECK_FUZZ_SECONDS),fuzz-deps,deps)
	@$(MAKE) --no-print-directory check-build
	@$(if $(CHECK_SANITIZE),$(MAKE) --no-print-directory SANITIZE=$(CHECK_SANITIZE) check-build)
	@$(if $(CHECK_FUZZ_SECONDS),$(MAKE) --no-print-directory $(addprefix build-fuzz/,$(FUZZ_TARGETS)))
	@CHECK_FUZZ_SECONDS="$(CHECK_FUZZ_SECONDS)" CHECK_FUZZ_TARGETS="$(FUZZ_TARGETS)" \
		CHECK_VALGRIND_TESTS="$(if $(SANITIZE),,$(CHECK_VALGRIND_TESTS))" \
		sh tests/run-all.sh $(BUILD)$(if $(and $(CHECK_SANITIZE),$(if $(SANITIZE),,x)),$(comma)build-san) $(UNIT_TESTS)

# A PKCS#11 module that forwards to SoftHSM and injects faults on command
# (tests/fault/p11fault.c); used by the HSM recovery tests only.
$(BUILD)/tests/libp11fault.so: tests/fault/p11fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -fPIC -shared $(P11_CFLAGS) \
		-o $@ $< -ldl -lpthread

# A front gone bad (tests/fault/rogue_front.c), run in seald-front's
# place by t_rogue: it speaks to the core as a compromised front could.
ROGUE_SRC := tests/fault/rogue_front.c daemon/fcmsg.c common/wire.c common/wire_io.c daemon/sign_req.c \
	evidence/tsa.c evidence/cms.c common/name.c common/err.c common/log.c common/b64.c \
	common/canon.c common/secret.c common/clock.c
$(BUILD)/tests/rogue-front: $(call obj,$(ROGUE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FRONT_LIBS)

check-build: all $(addprefix $(BUILD)/tests/,$(UNIT_TESTS)) $(BUILD)/tests/libp11fault.so \
	$(BUILD)/tests/rogue-front $(BUILD)/seald-bench

unit: check-build
	@sh tests/run-all.sh --unit-only $(BUILD) $(UNIT_TESTS)

integration: all $(BUILD)/tests/libp11fault.so $(BUILD)/tests/rogue-front
	@sh tests/integration/run.sh $(BUILD)

lint:
	@sh tools/lint.sh

# install: what the Debian package holds, under DESTDIR (packaging/debian)
PREFIX ?= /usr
install: all
	install -D -m 0755 $(BUILD)/seald $(DESTDIR)$(PREFIX)/sbin/seald
	install -D -m 0755 $(BUILD)/seald-front $(DESTDIR)$(PREFIX)/lib/seald/seald-front
	install -D -m 0755 $(BUILD)/sealctl $(DESTDIR)$(PREFIX)/bin/sealctl
	install -D -m 0644 man/seald.8 $(DESTDIR)$(PREFIX)/share/man/man8/seald.8
	install -D -m 0644 man/sealctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/sealctl.1
	install -D -m 0644 man/seald.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/seald.yaml.5
	install -D -m 0644 man/seald-policy.5 $(DESTDIR)$(PREFIX)/share/man/man5/seald-policy.5
	install -D -m 0644 packaging/seald.service $(DESTDIR)/lib/systemd/system/seald.service
	install -D -m 0644 packaging/seald.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/seald.conf
	install -D -m 0644 packaging/seald.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/seald.conf
	install -d $(DESTDIR)$(PREFIX)/share/doc/seald/examples $(DESTDIR)$(PREFIX)/share/seald/migrations
	install -m 0644 config/seald.yaml config/policy.yaml packaging/seald-network.conf \
		packaging/seald-device.conf $(DESTDIR)$(PREFIX)/share/doc/seald/examples/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/seald/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/seald/
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/seald/migrations/

# valgrind: every integration test but the package and load ones (a
# load test measures speed: hostile, rogue; group_commit and lookahead
# count what signatures overlap or queue), with each seald
# run under valgrind (tests/integration/valgrind.sh)
VALGRIND_TESTS ?= $(filter-out deb hostile rogue group_commit lookahead,$(patsubst tests/integration/t_%.sh,%,$(wildcard tests/integration/t_*.sh)))
valgrind: deps all $(BUILD)/tests/libp11fault.so
	@bash tests/integration/valgrind.sh $(BUILD) $(VALGRIND_TESTS)

# stress: the database killed under load, 10 times (tests/stress/)
stress: deps all
	@bash tests/stress/db_crash.sh $(BUILD)

# deb: the Debian package, built with dpkg-buildpackage (debhelper) from a
# copy of the tree with packaging/debian as debian/; into build/deb/
deb: deps
	@sh packaging/build-deb.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# fuzz: libFuzzer harnesses for the two YAML loaders, the RFC 3161
# request decoder, the JSON request decoders and the front/core message
# decoder, built with clang into
# build-fuzz/ and run FUZZ_SECONDS each (tests/fuzz/run.sh) on a corpus
# seeded from tests/data, tests/fuzz/corpus and tests/fuzz/seeds.sh.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Icommon -Iconfig -Ipolicy -Ievidence -Idaemon -Ihsm -Iledger \
	$(shell pkg-config --cflags p11-kit-1 libpq 2>/dev/null)
FUZZ_LIBS := -lyaml -lcrypto -ljansson
FUZZ_TARGETS := fuzz_policy fuzz_config fuzz_tsa_req fuzz_sign_req fuzz_wire
fuzz_tsa_req_SRC := tests/fuzz/fuzz_tsa_req.c $(EVIDENCE_SRC) common/err.c
fuzz_sign_req_SRC := tests/fuzz/fuzz_sign_req.c daemon/sign_req.c common/name.c common/err.c \
	common/b64.c common/canon.c
fuzz_wire_SRC := tests/fuzz/fuzz_wire.c $(FCMSG_SRC)
fuzz_policy_SRC := tests/fuzz/fuzz_policy.c $(POLICY_SRC) config/cfg_yaml.c common/name.c common/err.c
fuzz_config_SRC := tests/fuzz/fuzz_config.c $(CFG_SRC) common/err.c common/log.c

define fuzz_rule
build-fuzz/$(1): $$($(1)_SRC)
	@mkdir -p build-fuzz
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ $$^ $$(FUZZ_LIBS) -lpthread
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

.PHONY: fuzz
fuzz-deps:
	@sh packaging/install-deps.sh fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(addprefix build-fuzz/,$(FUZZ_TARGETS))
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san -path build/deb -prune -o -type f -name '*.d' -print 2>/dev/null)
