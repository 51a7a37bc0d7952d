# scbridge: Sellercloud <-> DDI System integration service.
#
# Knobs (override on the command line or in the environment):
#   CC       C compiler                                  (gcc)
#   MODE     rel: optimised; asan: ASan+UBSan, -Werror   (rel; test uses asan)
#   V        1 prints full commands                      (quiet)
#   JOBS     parallel unit-test binaries in make test    (2)
#   E2E      e2e test files to run, space separated      (all)
#   BUILD_DIR  where objects and binaries go             (build)
#   LIB_EXCLUDE  service/*.c files left out of the build (none)
#
# Targets: all test check bench demo chaos fuzz clean container-test deps
CC ?= gcc
MODE ?= rel
V ?=
JOBS ?= 2
E2E ?=
BUILD_DIR ?= build
LIB_EXCLUDE ?=

PKGS := libmicrohttpd libcurl libcjson hiredis openssl
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_SHA := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wformat=2 \
	-Wwrite-strings -fno-common
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude $(WARN) -MMD -MP \
	-DSCB_VERSION='"$(VERSION)"' -DSCB_GIT_SHA='"$(GIT_SHA)"'

ifeq ($(MODE),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -Werror
LDOPT := -fsanitize=address,undefined
else
OPT := -O2 -g
LDOPT :=
endif

B := $(BUILD_DIR)/$(MODE)
DEPS_OK := build/.deps-ok
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(LDOPT) $(PKG_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRCS := $(filter-out service/main.c $(LIB_EXCLUDE),$(wildcard service/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
SIMC_SRCS := $(wildcard tests/sim/common/*.c)
SIM_NAMES := $(notdir $(wildcard tests/sim/sc tests/sim/ddi))
SIM_BINS := $(SIM_NAMES:%=$(B)/sim-%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all test check bench demo chaos fuzz clean container-test deps \
	build-all unit e2e
.DEFAULT_GOAL := all

all: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory build-all

build-all: $(B)/scbridge $(SIM_BINS) $(UNIT_BINS) $(TOOL_BINS)

deps $(DEPS_OK): scripts/install-deps.sh
	$(Q)sh scripts/install-deps.sh --test
	$(Q)mkdir -p build && touch $(DEPS_OK)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/libscb.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/scbridge: $(B)/service/main.o $(B)/libscb.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

$(B)/unit/%: $(B)/tests/unit/%.o $(B)/libscb.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ -lcmocka $(LDLIBS_ALL)

$(B)/tools/%: $(B)/tests/tools/%.o $(B)/libscb.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

.SECONDARY:
.SECONDEXPANSION:
$(B)/sim-%: $$(addprefix $(B)/,$$(addsuffix .o,$$(basename $$(wildcard tests/sim/$$*/*.c)))) \
		$(SIMC_SRCS:%.c=$(B)/%.o) $(B)/libscb.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

test: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=asan build-all
	$(Q)JOBS=$(JOBS) E2E="$(E2E)" sh scripts/run-tests.sh $(BUILD_DIR)/asan

unit: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=asan build-all
	$(Q)JOBS=$(JOBS) SCB_ONLY=unit sh scripts/run-tests.sh $(BUILD_DIR)/asan

e2e: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=asan build-all
	$(Q)E2E="$(E2E)" SCB_ONLY=e2e sh scripts/run-tests.sh $(BUILD_DIR)/asan

check: $(DEPS_OK)
	$(Q)sh scripts/check-style.sh

bench: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=rel build-all
	$(Q)sh scripts/bench.sh $(BUILD_DIR)/rel

demo: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=rel build-all
	$(Q)sh scripts/demo.sh $(BUILD_DIR)/rel

chaos: $(DEPS_OK)
	$(Q)$(MAKE) --no-print-directory MODE=asan build-all
	$(Q)SCB_CHAOS=long E2E="tests/e2e/test_chaos.py" SCB_ONLY=e2e \
		sh scripts/run-tests.sh $(BUILD_DIR)/asan

fuzz: $(DEPS_OK)
	$(Q)sh scripts/fuzz.sh

container-test:
	$(Q)sh scripts/container-test.sh

clean:
	rm -rf $(BUILD_DIR)

-include $(shell find $(BUILD_DIR) -name '*.d' 2>/dev/null)
