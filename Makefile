# seald — plain Makefile.  `make` builds, `make run` starts a local demo,
# `make check` runs every test.  SANITIZE=address,undefined builds with
# sanitizers into build-san/; FUZZ=1 builds the libFuzzer harnesses with
# clang into build-fuzz/.
#
# Each folder of the layout (README.md, "Layout") is a static library,
# and its files are compiled with the include paths of the folders it may
# use and no others (inc_*), so that the walls between them are the
# compiler's: the front cannot include hsm/, ledger/, policy/ or the core,
# only ledger/ sees libpq, only hsm/ sees PKCS#11.  A binary is its main
# file and the libraries; the linker takes from each only what is used.

# the rules made below by $(eval) come first in the file: `make` is all
.DEFAULT_GOAL := all

SANITIZE ?=
FUZZ ?=
BUILD := build$(if $(SANITIZE),-san)$(if $(FUZZ),-fuzz)
comma := ,

# Compiler flags come from pkg-config, one package at a time so that one
# missing package does not empty the flags of the others.  They are read
# when make reads this file: `run`, `check`, `bench` and `deb` therefore
# install the packages first (`deps`) and build in a second make, which
# reads them after the install.  A build without them stops at `pkgcheck`
# and says which packages to install.
PKG_CONFIG ?= pkg-config
pkg_cflags = $(foreach p,$(1),$(shell $(PKG_CONFIG) --cflags $(p) 2>/dev/null))
pkg_libs = $(foreach p,$(1),$(shell $(PKG_CONFIG) --libs $(p) 2>/dev/null))
BUILD_PKGS := libmicrohttpd jansson yaml-0.1 libpq openssl p11-kit-1 libseccomp libcurl
# the headers every folder may use (libmicrohttpd's flags name p11-kit's
# folder too); libpq's and PKCS#11's only where said
P11_CFLAGS := $(call pkg_cflags,p11-kit-1)
PQ_CFLAGS := $(call pkg_cflags,libpq)
PKG_CFLAGS := $(filter-out $(P11_CFLAGS),$(call pkg_cflags,libmicrohttpd jansson yaml-0.1 openssl))
PKG_LIBS := $(call pkg_libs,libmicrohttpd jansson yaml-0.1 libpq openssl) -lpthread -ldl
FRONT_LIBS := $(call pkg_libs,libmicrohttpd jansson openssl libseccomp) -lpthread

# A distribution build passes its own CFLAGS, CPPFLAGS and LDFLAGS
# (dpkg-buildflags) and WERROR= (packaging/debian/rules): they are added
# to the project's own, which stay.  A developer's build fails on any
# warning.
WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough
WERROR ?= -Werror
HARDEN := -fstack-protector-strong -fstack-clash-protection -fPIE
CFLAGS ?= -O2 -g
CPPFLAGS ?= -D_FORTIFY_SOURCE=2
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
override CFLAGS := -O1 -g
override CPPFLAGS :=
endif
ifneq ($(FUZZ),)
override CC := clang
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
override CFLAGS := -O1 -g
override CPPFLAGS :=
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(WERROR) $(HARDEN) $(SAN_FLAGS) $(CPPFLAGS) \
	$(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now,-z,noexecstack $(SAN_FLAGS) $(LDFLAGS)

# ------------------------------------------------------------ the libraries
# lib: its folder; inc_*: what its files may include, itself first
LIBS_ALL := common config policy hsm ledger evidence proto front core admin keeper
dir_common := common
dir_config := config
dir_policy := policy
dir_hsm := hsm
dir_ledger := ledger
dir_evidence := evidence
dir_proto := daemon/proto
dir_front := daemon/front
dir_core := daemon/core
dir_admin := daemon/admin
dir_keeper := daemon/keeper
inc_common := common
inc_config := config common
inc_policy := policy config common
inc_hsm := hsm common $(P11_CFLAGS)
inc_ledger := ledger common $(PQ_CFLAGS)
inc_evidence := evidence common
inc_proto := daemon/proto evidence common
inc_front := daemon/front daemon/proto evidence common
inc_core := daemon/core daemon/proto policy hsm ledger evidence config common
inc_admin := daemon/admin daemon/front daemon/core daemon/proto policy hsm ledger evidence \
	config common
inc_keeper := daemon/keeper daemon/admin daemon/front daemon/core daemon/proto policy hsm \
	ledger evidence config common
# the programs of tools/ (sealctl, seald-bench) and the tests see them all
inc_tools := tools hsm ledger policy evidence config common
inc_tests := tests/unit tests/fuzz $(foreach l,$(LIBS_ALL),$(dir_$(l)))

# each library's sources: its folder's, but the programs' main files
MAINS := daemon/keeper/main.c daemon/front/front_main.c
src_ledger_extra := $(BUILD)/ledger/migrations.c
$(foreach l,$(LIBS_ALL),$(eval src_$(l) := $(filter-out $(MAINS),$(wildcard $(dir_$(l))/*.c)) \
	$(src_$(l)_extra)))
obj = $(patsubst %.c,$(BUILD)/%.o,$(patsubst $(BUILD)/%,%,$(1)))
lib = $(foreach l,$(1),$(BUILD)/lib/lib$(l).a)
incflags = $(foreach d,$(1),$(if $(filter -%,$(d)),$(d),-I$(d)))

define lib_rules
$(BUILD)/$(dir_$(1))/%.o: $(dir_$(1))/%.c | pkgcheck
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $$(call incflags,$$(inc_$(1))) -MMD -MP -c -o $$@ $$<
$(BUILD)/lib/lib$(1).a: $$(call obj,$$(src_$(1)))
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
endef
$(foreach l,$(LIBS_ALL),$(eval $(call lib_rules,$(l))))

$(BUILD)/ledger/migrations.c: $(sort $(wildcard migrations/*.sql)) tools/embed-sql.sh
	@mkdir -p $(@D)
	sh tools/embed-sql.sh $(sort $(wildcard migrations/*.sql)) > $@.tmp && mv $@.tmp $@
$(BUILD)/ledger/migrations.o: $(BUILD)/ledger/migrations.c
	$(CC) $(ALL_CFLAGS) $(call incflags,$(inc_ledger)) -MMD -MP -c -o $@ $<

$(BUILD)/tools/%.o: tools/%.c | pkgcheck
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(call incflags,$(inc_tools)) -MMD -MP -c -o $@ $<
$(BUILD)/tests/%.o: tests/%.c | pkgcheck
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(call incflags,$(inc_tests)) -MMD -MP -c -o $@ $<

# ------------------------------------------------------------- the programs
# the libraries in link order: each after those that use it
LINK_ORDER := keeper admin core front proto policy ledger hsm evidence config common
link = $(call lib,$(filter $(1),$(LINK_ORDER)))

SEALD_LIBS := keeper admin core front proto policy ledger hsm evidence config common
FRONT_LIBS_PROJ := front proto evidence common
SEALCTL_LIBS := policy ledger evidence config common
BENCH_LIBS := ledger hsm common

.PHONY: all deps check-deps pkgcheck run run-ha check check-build unit integration lint format clean fuzz fuzz-deps \
	bench valgrind install deb stress fresh-check systemd-check walls
all: $(BUILD)/seald $(BUILD)/seald-front $(BUILD)/sealctl

$(BUILD)/seald: $(BUILD)/daemon/keeper/main.o $(call link,$(SEALD_LIBS))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# seald-front: the process that parses client bytes (no HSM, no libpq)
$(BUILD)/seald-front: $(BUILD)/daemon/front/front_main.o $(call link,$(FRONT_LIBS_PROJ))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FRONT_LIBS)

$(BUILD)/sealctl: $(call obj,$(wildcard tools/sealctl*.c)) $(call link,$(SEALCTL_LIBS))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(call pkg_libs,libcurl)

# seald-bench: the load tool of `make bench` (tools/bench.c)
$(BUILD)/seald-bench: $(call obj,tools/bench.c tools/bench_load.c tools/bench_cpu.c) $(call link,$(BENCH_LIBS))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---------------------------------------------------------------- the tests
# one cmocka runner per module, linked with that module's library and
# what it needs (test_X_LIBS), and test_X_OBJ besides its own file
UNIT_TESTS := test_err test_wire test_b64 test_cfg test_sign_req test_ledger_hash test_queue \
	test_policy test_policy_values test_ratelimit test_merkle test_cms test_tsa test_secret test_path test_csr \
	test_peer test_inflight test_recent test_wire_io test_name test_note test_p11uri
test_err_LIBS := common
test_wire_LIBS := proto evidence common
test_b64_LIBS := common
test_cfg_LIBS := config common
test_cfg_OBJ := tests/unit/expect.c
test_sign_req_LIBS := front proto common
test_ledger_hash_LIBS := ledger common
test_queue_LIBS := common
test_policy_LIBS := policy config common
test_policy_OBJ := tests/unit/expect.c tests/unit/policy_data.c
test_policy_values_LIBS := policy config common
test_policy_values_OBJ := tests/unit/policy_data.c
test_ratelimit_LIBS := policy common
test_merkle_LIBS := ledger common
test_cms_LIBS := evidence common
test_cms_OBJ := tests/unit/softkey.c
test_tsa_LIBS := evidence common
test_tsa_OBJ := tests/unit/softkey.c
test_secret_LIBS := common
test_path_LIBS := common
test_csr_LIBS := evidence common
test_csr_OBJ := tests/unit/softkey.c
test_peer_LIBS := common
test_inflight_LIBS := core common
test_recent_LIBS := core common
test_wire_io_LIBS := common
test_name_LIBS := common
test_p11uri_LIBS := common
test_note_LIBS := ledger common

define unit_rule
$(BUILD)/tests/$(1): $$(call obj,tests/unit/$(1).c $$($(1)_OBJ)) $$(call link,$$($(1)_LIBS))
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

# walls: the front's include paths do not reach hsm/, ledger/, policy/ or
# the core; policy/ and evidence/ see no I/O layer; common/ sees nothing
# above it (tests/walls.sh compiles an include of each forbidden header);
# seald-front links none of their code
walls: $(BUILD)/seald-front
	@sh tests/walls.sh $(BUILD)/seald-front "$(CC) $(ALL_CFLAGS)" \
		"front:$(call incflags,$(inc_front))" "proto:$(call incflags,$(inc_proto))" \
		"policy:$(call incflags,$(inc_policy))" "evidence:$(call incflags,$(inc_evidence))" \
		"common:$(call incflags,$(inc_common))" "hsm:$(call incflags,$(inc_hsm))" \
		"ledger:$(call incflags,$(inc_ledger))"

# deps: the packages to build and run (packaging/install-deps.sh has the
# sets); check-deps adds the tests' own, the package build's and clang
deps:
	@sh packaging/install-deps.sh build run
check-deps:
	@sh packaging/install-deps.sh build run check ha deb $(if $(CHECK_FUZZ_SECONDS),fuzz) \
		$(if $(CHECK_SYSTEMD),container)

# pkgcheck: every object waits for it; it names the build packages that
# pkg-config cannot find (a second make after `deps` finds them all)
pkgcheck:
	@missing='$(strip $(foreach p,$(BUILD_PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) 2>/dev/null && echo y),,$(p))))'; \
	if [ -n "$$missing" ]; then \
		echo "make: pkg-config finds no $$missing: run 'make deps' first" \
			"(make run, check, bench and deb do it themselves)" >&2; \
		exit 1; \
	fi

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/devenv.sh run $(BUILD)

# run-ha: the same on a local high-availability cluster (pg_auto_failover:
# a monitor, a primary and its synchronous standby; tools/halib.sh)
run-ha:
	@sh packaging/install-deps.sh build run ha
	@$(MAKE) --no-print-directory all
	@sh tools/devenv.sh run-ha $(BUILD)

# bench: seald against the raw PKCS#11 rate of the same key, in one run
# (tools/bench.sh; BENCH_CLIENTS, BENCH_SECONDS, BENCH_KEY, BENCH_FORMAT)
bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/seald-bench $(BUILD)/tests/libp11fault.so
	@bash tools/bench.sh $(BUILD)

# check: install what is needed, then every unit and integration test,
# on the plain build and again on the sanitizer build (CI runs both),
# CHECK_VALGRIND_TESTS with seald under valgrind, and a fuzz smoke (each
# libFuzzer harness CHECK_FUZZ_SECONDS), the package under a booted
# systemd (CHECK_SYSTEMD, make systemd-check), printing a cmocka summary
# per runner and one "N passed, N failed" line at the end.  Setting
# CHECK_SANITIZE, CHECK_VALGRIND_TESTS, CHECK_FUZZ_SECONDS or
# CHECK_SYSTEMD empty skips that pass.
CHECK_SANITIZE ?= address,undefined
CHECK_VALGRIND_TESTS ?= sign tsa cms bad_input idempotent auth policy sealctl \
	key_life ledger_down hsm_fault
CHECK_FUZZ_SECONDS ?= 60
CHECK_SYSTEMD ?= 1
check: check-deps
	@$(MAKE) --no-print-directory check-build
	@$(if $(CHECK_SANITIZE),$(MAKE) --no-print-directory SANITIZE=$(CHECK_SANITIZE) check-build)
	@$(if $(CHECK_FUZZ_SECONDS),$(MAKE) --no-print-directory FUZZ=1 $(addprefix build-fuzz/,$(FUZZ_TARGETS)))
	@CHECK_FUZZ_SECONDS="$(CHECK_FUZZ_SECONDS)" CHECK_FUZZ_TARGETS="$(FUZZ_TARGETS)" \
		CHECK_SYSTEMD="$(CHECK_SYSTEMD)" \
		CHECK_VALGRIND_TESTS="$(if $(SANITIZE),,$(CHECK_VALGRIND_TESTS))" \
		sh tests/run-all.sh $(BUILD)$(if $(and $(CHECK_SANITIZE),$(if $(SANITIZE),,x)),$(comma)build-san) $(UNIT_TESTS)

# A PKCS#11 module that forwards to SoftHSM and injects faults on command
# (tests/fault/p11fault.c); used by the HSM recovery tests only.
$(BUILD)/tests/libp11fault.so: tests/fault/p11fault.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(WERROR) -fPIC -shared $(P11_CFLAGS) \
		-o $@ $< -ldl -lpthread

# A front gone bad (tests/fault/rogue_front.c), run in seald-front's
# place by t_rogue: it speaks to the core as a compromised front could.
$(BUILD)/tests/rogue-front: $(BUILD)/tests/fault/rogue_front.o $(call link,$(FRONT_LIBS_PROJ))
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FRONT_LIBS)

# Runs a command where seccomp(2) is refused (tests/fault/noseccomp.c):
# t_split shows a front that cannot load its filter serves nobody.
$(BUILD)/tests/noseccomp: tests/fault/noseccomp.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) $(WERROR) -o $@ $< $(call pkg_libs,libseccomp)

check-build: all $(addprefix $(BUILD)/tests/,$(UNIT_TESTS)) $(BUILD)/tests/libp11fault.so \
	$(BUILD)/tests/rogue-front $(BUILD)/tests/noseccomp $(BUILD)/seald-bench walls

unit: check-build
	@sh tests/run-all.sh --unit-only $(BUILD) $(UNIT_TESTS)

integration: all $(BUILD)/tests/libp11fault.so $(BUILD)/tests/rogue-front $(BUILD)/tests/noseccomp
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
	install -D -m 0755 packaging/seald-setup $(DESTDIR)$(PREFIX)/sbin/seald-setup
	install -D -m 0644 man/seald-setup.8 $(DESTDIR)$(PREFIX)/share/man/man8/seald-setup.8
	install -D -m 0644 packaging/seald.service $(DESTDIR)/lib/systemd/system/seald.service
	install -D -m 0644 packaging/seald.socket $(DESTDIR)/lib/systemd/system/seald.socket
	install -D -m 0644 packaging/seald-admin.socket \
		$(DESTDIR)/lib/systemd/system/seald-admin.socket
	install -D -m 0644 packaging/seald.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/seald.conf
	install -D -m 0644 packaging/seald.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/seald.conf
	install -d $(DESTDIR)$(PREFIX)/share/doc/seald/examples $(DESTDIR)$(PREFIX)/share/seald/migrations
	install -m 0644 config/seald.yaml config/policy.yaml packaging/seald-network.conf \
		packaging/seald-device.conf $(DESTDIR)$(PREFIX)/share/doc/seald/examples/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/seald/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/seald/
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/seald/migrations/

# valgrind: every integration test but the package and load ones (a
# load test measures speed: hostile, rogue; group_commit and retries
# count what signatures overlap or queue), with each seald
# run under valgrind (tests/integration/valgrind.sh)
VALGRIND_TESTS ?= $(filter-out deb fresh hostile rogue group_commit retries,$(patsubst tests/integration/t_%.sh,%,$(wildcard tests/integration/t_*.sh)))
valgrind: check-deps
	@$(MAKE) --no-print-directory all $(BUILD)/tests/libp11fault.so
	@bash tests/integration/valgrind.sh $(BUILD) $(VALGRIND_TESTS)

# stress: the database killed under load, 10 times (tests/stress/)
stress: deps
	@$(MAKE) --no-print-directory all
	@bash tests/stress/db_crash.sh $(BUILD)

# fresh-check: the README's commands as the first ones on a fresh Debian
# 12 root, as a user with sudo and as root (tests/fresh/fresh-check.sh;
# FRESH_CASES, FRESH_CHECK_ARGS)
fresh-check:
	@sh packaging/install-deps.sh container
	@bash tests/fresh/fresh-check.sh

# systemd-check: the package installed as docs/operations.md says, in a
# booted Debian 12 container, and what each party can do checked there
# (tests/container/systemd-check.sh)
systemd-check:
	@sh packaging/install-deps.sh build deb container
	@bash tests/container/systemd-check.sh

# deb: the Debian package, built with dpkg-buildpackage (debhelper) from a
# copy of the tree with packaging/debian as debian/; into build/deb/
deb:
	@sh packaging/install-deps.sh build deb
	@sh packaging/build-deb.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# fuzz: libFuzzer harnesses for the two YAML loaders, the RFC 3161
# request decoder, the JSON request decoders and the front/core message
# decoder, built with clang (FUZZ=1: the libraries again, instrumented)
# into build-fuzz/ and run FUZZ_SECONDS each (tests/fuzz/run.sh) on a
# corpus seeded from tests/data, tests/fuzz/corpus and tests/fuzz/seeds.sh.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_policy fuzz_config fuzz_tsa_req fuzz_sign_req fuzz_wire
fuzz_tsa_req_LIBS := evidence common
fuzz_sign_req_LIBS := front proto common
fuzz_wire_LIBS := front proto evidence common
fuzz_policy_LIBS := policy config common
fuzz_config_LIBS := config common

define fuzz_rule
$(BUILD)/$(1): $(BUILD)/tests/fuzz/$(1).o $$(call link,$$($(1)_LIBS))
	$$(CC) $$(ALL_LDFLAGS) -fsanitize=fuzzer -o $$@ $$^ -lyaml -lcrypto -ljansson -lpthread
endef
$(if $(FUZZ),$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t)))))

fuzz-deps:
	@sh packaging/install-deps.sh build fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory FUZZ=1 $(addprefix build-fuzz/,$(FUZZ_TARGETS))
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -path build/deb -prune -o -type f -name '*.d' -print 2>/dev/null)
