# Portico — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
BIN   := target/release/portico

.PHONY: all build run test check fmt clippy clean bench allocs microbench demo fuzz nginx-tests ktls-vm

all: build

build:
	$(CARGO) build --release

# Foreground, on the shipped default config (port 8080), with this checkout as prefix.
# Started as root, the workers would run as `nobody` (nginx's default `user`), which cannot
# read a checkout in a private directory (under /root, or made by `mktemp -d`) and would
# answer 403: `make run` keeps them as root instead. Portico warns about such roots at start.
RUN_GLOBALS := daemon off;$(if $(filter 0,$(shell id -u)), user root;,)

run: build
	mkdir -p logs
	$(BIN) -p $(CURDIR) -c conf/portico.conf -g '$(RUN_GLOBALS)'

# The seed's scenario: two Tornado apps behind Portico on conf/nginx.conf (port 8080).
demo: build
	./examples/demo.sh

# Every test: unit tests next to the code, integration tests driving the real binary.
test: build
	$(CARGO) test --release -- --test-threads=2
	python3 -m unittest discover -s benches -p "test_*.py"

check: fmt clippy test

bench: build
	python3 benches/bench.py $(BENCH_ARGS)

# Kernel TLS on a kernel that has it: Debian's kernel in qemu/KVM (apt-get installs
# qemu-system-x86, linux-image-amd64, busybox-static); not part of `make test`.
ktls-vm: build
	sh benches/ktls_vm.sh target/release/portico

# Heap allocations per request (builds with --features count-alloc into target/count-alloc).
allocs:
	python3 benches/allocs.py $(ALLOCS_ARGS)

# Criterion micro-benchmarks of the per-request path: parse, route, response head.
microbench:
	$(CARGO) bench --bench request_path

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean

# Fuzz each target for FUZZ_SECONDS with cargo-fuzz (`cargo install cargo-fuzz`), on stable
# Rust: no sanitizer. New inputs go to fuzz/target/corpus/, the committed seeds in
# fuzz/corpus/ are only read; a crash lands in fuzz/artifacts/TARGET/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= config request_head chunked uri dns fastcgi_records http2_session hpack

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/target/corpus/$$t && \
		$(CARGO) fuzz run $$t fuzz/target/corpus/$$t fuzz/corpus/$$t -s none -- \
			-max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# nginx's own test suite (nginx/nginx-tests) against the release binary; `-V` says which
# modules exist, so tests of the others skip themselves. NGINX_TESTS_ARGS picks files
# (`make nginx-tests NGINX_TESTS_ARGS="proxy rewrite"`); see ../shared/nginx-tests/README.md.
NGINX_TESTS ?= ../shared/nginx-tests
NGINX_TESTS_ARGS ?=

nginx-tests: build
	BIN=$(CURDIR)/$(BIN) $(NGINX_TESTS)/run.sh $(NGINX_TESTS_ARGS)

# ---- install and package (issue 16) ----
# `make install` lays out an installed Portico as Debian's nginx package does (pkg/install.sh):
# $(SBINDIR)/portico, $(CONFDIR)/ (portico.conf including conf.d/*.conf and sites-enabled/*,
# sites-available/default on port $(PORT), mime.types and whatever else conf/ ships),
# $(LOGDIR), $(STATEDIR), the systemd unit in $(UNITDIR) and the logrotate file. DESTDIR
# stages; the other paths are the final ones. The binary is built in target/install with the
# configuration file and a prefix compiled in (nginx's --conf-path and --prefix), so
# `portico -s reload` needs no -c; the prefix is $(STATEDIR), where relative paths of a
# configuration (the temporary folders of nginx.conf files that do not name them) can be
# written. INSTALL_BIN=path installs another binary instead.
# `make deb` packages the same layout with dpkg-deb (pkg/build-deb.sh) into target/deb/.
PREFIX       ?= /usr
SBINDIR      ?= $(PREFIX)/sbin
DATADIR      ?= $(PREFIX)/share/portico
DOCDIR       ?= $(PREFIX)/share/doc/portico
SYSCONFDIR   ?= /etc
CONFDIR      ?= $(SYSCONFDIR)/portico
LOGDIR       ?= /var/log/portico
STATEDIR     ?= /var/lib/portico
RUNDIR       ?= /run
UNITDIR      ?= /lib/systemd/system
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
PORT         ?= 8080
INSTALL_BIN  ?= target/install/release/portico

.PHONY: install-bin install deb

install-bin:
	@if [ "$(INSTALL_BIN)" = target/install/release/portico ]; then \
		PORTICO_PREFIX=$(STATEDIR) PORTICO_CONF_PATH=$(CONFDIR)/portico.conf \
		CARGO_TARGET_DIR=target/install $(CARGO) build --release; \
	fi

install: install-bin
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SBINDIR="$(SBINDIR)" DATADIR="$(DATADIR)" \
	DOCDIR="$(DOCDIR)" SYSCONFDIR="$(SYSCONFDIR)" CONFDIR="$(CONFDIR)" LOGDIR="$(LOGDIR)" \
	STATEDIR="$(STATEDIR)" RUNDIR="$(RUNDIR)" UNITDIR="$(UNITDIR)" \
	LOGROTATEDIR="$(LOGROTATEDIR)" PORT="$(PORT)" BIN="$(INSTALL_BIN)" SRC="$(CURDIR)" \
	pkg/install.sh

deb: install-bin
	BIN="$(INSTALL_BIN)" SRC="$(CURDIR)" OUT="$(CURDIR)/target/deb" pkg/build-deb.sh
