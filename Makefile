# sipsec build. `make` builds build/release/sipsec; `make MODE=asan` the
# AddressSanitizer + UndefinedBehaviorSanitizer build the tests use;
# `make fuzz` the libFuzzer targets (clang). WERROR=1 turns warnings into errors.
#
# Each folder under src/ is its own static library, linked top layer first, so a
# lower layer that calls into a higher one fails to link (see docs/layers.md).

MODE ?= release
WERROR ?= 0
BUILD := build/$(MODE)

# Layers, highest first (link order). Folders that do not exist yet are skipped.
LAYERS := cli server diag admin provision registrar proxy auth media sdp store pki sip net core
LAYERS := $(foreach l,$(LAYERS),$(if $(wildcard src/$(l)/*.c),$(l)))

PKGS := openssl libsrtp2 sqlite3 jansson libpcap
PKG_CFLAGS := $(shell pkg-config --cflags-only-I $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wno-unused-parameter -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS_release := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
CFLAGS_asan := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
LDFLAGS_asan := -fsanitize=address,undefined
CFLAGS_fuzz := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
LDFLAGS_fuzz := -fsanitize=fuzzer,address,undefined

ifeq ($(MODE),fuzz)
CC := clang
endif

CFLAGS := -std=c11 -D_GNU_SOURCE -DSPS_VERSION=\"$(VERSION)\" -Isrc $(PKG_CFLAGS) \
	$(WARN) $(CFLAGS_$(MODE)) $(EXTRA_CFLAGS)
LDFLAGS := $(LDFLAGS_$(MODE)) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

LIBFILES := $(foreach l,$(LAYERS),$(BUILD)/lib$(l).a)
objs_of = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/$(1)/*.c))

TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(TEST_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
FUZZ_SRCS := $(wildcard fuzz/*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))

.PHONY: all test-bin bench fuzz clean
all: $(BUILD)/sipsec
test-bin: $(BUILD)/unit-tests
bench: $(BENCH_BINS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -c $< -o $@

define LAYER_RULE
$(BUILD)/lib$(1).a: $(call objs_of,$(1))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call LAYER_RULE,$(l))))

$(BUILD)/sipsec: $(BUILD)/obj/main.o $(LIBFILES)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(TEST_OBJS) $(LIBFILES)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIBFILES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz:
	$(MAKE) MODE=fuzz fuzz-bins
.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BINS)
build/fuzz/%: fuzz/%.c $(LIBFILES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
