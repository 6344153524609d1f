# hvmeter — one non-recursive Makefile. Everything it makes goes under $(O).
#   make            build BPF objects, skeletons and the binaries
#   make test       install deps, build, run unit (+ASan/UBSan) and integration tests
#   make SAN=1      sanitizer build (ASan+UBSan) into build/asan
#   make V=1        show commands
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

SAN ?= 0
ifeq ($(SAN),1)
O ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
O ?= build
SANFLAGS :=
endif

CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
Q := $(if $(filter 1,$(V)),,@)

# The one warning list. -Werror is not optional.
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter -Wvla -Wpointer-arith
PKGS := libvirt libbpf libnl-3.0 libnl-route-3.0 jansson inih libxml-2.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The one version number: VERSION, given to the programs (--version), the man
# pages and the packages.
HV_VERSION := $(shell cat VERSION)
CFLAGS  := -std=gnu11 -O2 -g -D_GNU_SOURCE $(WARN) $(SANFLAGS) -I. -I$(O) $(PKG_CFLAGS) \
           -DHV_VERSION='"$(HV_VERSION)"'
LDFLAGS := $(SANFLAGS)
LDLIBS  := $(PKG_LIBS) -llmdb -lmbedtls -lmbedx509 -lmbedcrypto -lgmp \
           -lfreeipmi -lelf -lz -lm -lpthread
DEPFLAGS = -MMD -MP -MF $(@:.o=.d)

# ---- kernel side: vmlinux.h -> %.bpf.o -> %.skel.h -------------------------
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:%.bpf.c=$(O)/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:%.bpf.c=$(O)/%.skel.h)
VMLINUX_H := $(O)/bpf/vmlinux.h

# vmlinux.h comes from the running kernel's BTF; nothing generated is committed.
$(VMLINUX_H):
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(O)/bpf/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H)
	@mkdir -p $(@D)
	@echo "  BPF     $@"
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
		-I$(O)/bpf -I. -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# ---- user space: one static library per folder --------------------------------
MAINS := daemon/hvmeterd.c daemon/hvmeter.c rater/hvrater.c
$(MAINS:%.c=$(O)/%.o): VERSION
lib_srcs = $(filter-out $(MAINS),$(wildcard $(1)/*.c))
COMMON_OBJS := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,common))
WIRE_OBJS   := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,wire))
STORE_OBJS  := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,store))
IPMI_OBJS   := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,ipmi))
AGENT_OBJS  := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,daemon))
RATER_OBJS  := $(patsubst %.c,$(O)/%.o,$(call lib_srcs,rater))

$(O)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/lib%.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/libhvcommon.a: $(COMMON_OBJS)
$(O)/libhvwire.a:  $(WIRE_OBJS)
$(O)/libhvstore.a: $(STORE_OBJS)
$(O)/libhvipmi.a:  $(IPMI_OBJS)
$(O)/libhvagent.a: $(AGENT_OBJS)
$(O)/libhvrater.a: $(RATER_OBJS)

# Link order: dependents first.
AGENT_LIBS := $(O)/libhvagent.a $(O)/libhvipmi.a $(O)/libhvstore.a $(O)/libhvwire.a $(O)/libhvcommon.a
RATER_LIBS := $(O)/libhvrater.a $(O)/libhvstore.a $(O)/libhvwire.a $(O)/libhvcommon.a
ALL_LIBS   := $(O)/libhvagent.a $(O)/libhvrater.a $(O)/libhvipmi.a $(O)/libhvstore.a $(O)/libhvwire.a \
              $(O)/libhvcommon.a

BINS := $(O)/bin/hvmeterd $(O)/bin/hvmeter $(if $(wildcard rater/hvrater.c),$(O)/bin/hvrater)

$(O)/bin/hvmeterd: $(O)/daemon/hvmeterd.o $(AGENT_LIBS)
$(O)/bin/hvmeter:  $(O)/daemon/hvmeter.o $(AGENT_LIBS)
$(O)/bin/hvrater:  $(O)/rater/hvrater.o $(RATER_LIBS)
$(BINS):
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests -----------------------------------------------------------------
# Each tests/unit/test_*.c is a cmocka program linked with the real code.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
$(O)/tests/%: $(O)/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(ALL_LIBS) $(LDLIBS) -lcmocka

# C programs that integration scripts drive (not run by themselves).
INTEG_SRCS := $(wildcard tests/integration/c/*.c)
INTEG_BINS := $(INTEG_SRCS:tests/integration/c/%.c=$(O)/tests/integration/%)
$(O)/tests/integration/%: $(O)/tests/integration/c/%.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(ALL_LIBS) $(LDLIBS) -lcmocka

.PHONY: all deps bpf unit-tests test asan guest bench fuzz clean
all: $(BPF_SKELS) $(BINS)
bpf: $(BPF_OBJS) $(BPF_SKELS)
unit-tests: $(UNIT_BINS) $(INTEG_BINS)

deps:
	$(Q)bash scripts/deps.sh

guest:
	$(Q)bash tests/guest/build.sh

# make test = install what is needed, build (plain and ASan+UBSan), run all tests.
test: deps
	$(Q)$(MAKE) --no-print-directory all unit-tests
	$(Q)$(MAKE) --no-print-directory SAN=1 unit-tests
	$(Q)bash tests/run.sh

bench:
	$(Q)bash scripts/deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)HV_BUILD=$(O) bash tests/bench/run.sh

# libFuzzer targets one after the other, FUZZ_SECONDS each (default 60); prints each
# target's executions and findings, and adds them to build/fuzz/execs.log (tests/fuzz/run.sh).
# FUZZ_TARGETS="fuzz_rules fuzz_msg" runs only those.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_TARGETS)

# make demo: install, build into $(O), start guests, BMC simulator, rater and
# agent, print priced usage after a minute; they keep running until
# make demo-stop (scripts/demo.sh).
.PHONY: demo demo-stop
demo:
	$(Q)HV_BUILD=$(O) bash scripts/demo.sh start

demo-stop:
	$(Q)HV_BUILD=$(O) bash scripts/demo.sh stop

# make chaos: the whole system under random faults, then truth, ledger and
# rater compared (tests/chaos/README.md); at most 10 minutes.
# CHAOS_ARGS="--seed N" replays a run; make chaos-quick is the ~2 minute one
# that make test runs (tests/integration/chaos_quick.sh).
.PHONY: chaos chaos-quick
chaos: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)HV_BUILD=$(O) bash tests/chaos/chaos.sh $(CHAOS_ARGS)

chaos-quick: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)HV_BUILD=$(O) bash tests/chaos/chaos.sh --quick $(CHAOS_ARGS)

# Man pages: one source each, man/NAME.SECTION.md, turned into roff by man/mkman.
# make deb: the hvmeter and hvmeter-rater packages in $(O)/deb (packaging/build-deb.sh).
.PHONY: man deb
MAN_SRCS  := $(wildcard man/*.[1-8].md)
MAN_PAGES := $(MAN_SRCS:man/%.md=$(O)/man/%)
$(O)/man/%: man/%.md man/mkman VERSION
	@mkdir -p $(@D)
	@echo "  MAN     $@"
	$(Q)HV_VERSION=$(HV_VERSION) sh man/mkman $< > $@

man: $(MAN_PAGES)

deb: all man
	$(Q)HV_VERSION=$(HV_VERSION) bash packaging/build-deb.sh $(O)

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)
