# gif: build, test, demo, fuzz, bench. Run as root on Debian (the tests build
# network namespaces); `make deps` installs the Debian tools they need.

GO       ?= go
FUZZTIME ?= 20s
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
DOCDIR   ?= $(PREFIX)/share/doc/gif
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= /etc/systemd/system
CONFDIR  ?= /etc/gif
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
# DEB_PKGS is every Debian package that the tests, the demo and the bench
# need, and the one list: `make deps` installs it, and so does CI (.ci/run)
# through make. internal/tools maps each program they run to its package,
# and its tests fail when a package is not here.
DEB_PKGS := coreutils dash mount util-linux procps git iproute2 iputils-ping ethtool \
	tshark iperf3 wireguard-tools python3-scapy systemd openssl \
	strongswan-charon strongswan-swanctl libcharon-extra-plugins \
	libstrongswan-extra-plugins libstrongswan-standard-plugins \
	e2fsprogs clang llvm libbpf-dev mandoc man-db prometheus \
	bash dpkg-dev lintian

.PHONY: all build deps generate check-generated test demo fuzz bench vet man-lint man-check install uninstall clean
.PHONY: check-unit deb check-deb

# MANPAGES are the manual pages in mdoc, each installed in the section its
# name ends with: man/gif.8 as $(MANDIR)/man8/gif.8.
MANPAGES := $(wildcard man/*.[1-9])

all: build

# -buildvcs=auto stamps the git revision that gif version prints, also where
# GOFLAGS turns stamping off.
build:
	$(GO) build -buildvcs=auto -o gif ./cmd/gif

# deps installs what is missing, and nothing when all is there.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# generate rebuilds the kernel plane's tc programs (bpf/gif.c) into the
# committed gif_bpfel.go and gif_bpfel.o with clang (bpf2go); go build needs
# neither clang nor this step.
KERNEL_PKG := internal/dataplane/kernel
GENERATED  := gif_bpfel.go gif_bpfel.o

generate:
	cd $(KERNEL_PKG) && $(GO) generate .

# check-generated regenerates into a temporary copy of the package (inside
# the module, so that go run finds bpf2go's version in go.mod; a directory
# whose name starts with a dot is no package of ./...) and fails naming each
# committed file that differs from what the source gives.
check-generated:
	@tmp=$$(mktemp -d $(KERNEL_PKG)/.regenerate.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	cp -r $(KERNEL_PKG)/bpf $(KERNEL_PKG)/generate.go "$$tmp"/ && \
	(cd "$$tmp" && $(GO) generate .) || exit 1; \
	stale=""; for f in $(GENERATED); do cmp -s "$$tmp/$$f" $(KERNEL_PKG)/$$f || stale="$$stale $(KERNEL_PKG)/$$f"; done; \
	if [ -n "$$stale" ]; then echo "check-generated: differs from what bpf/gif.c gives (run make generate):$$stale"; exit 1; fi

# bench is a module of its own (bench/go.mod), so that gif's go.mod does not
# require its plotting libraries: vet and test visit it after gif's.
vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal bench)" || { gofmt -l cmd internal bench; echo "gofmt: files above need formatting"; exit 1; }

# man-lint fails when mandoc finds anything at warning level or above in
# a manual page.
man-lint:
	@out=$$(mandoc -T lint -W warning $(MANPAGES) 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; echo "man-lint: mandoc warns about the manual pages above"; exit 1; fi

# man-check installs into a scratch DESTDIR and checks that man finds and
# renders gif(8) for `man gif`, gif(4) for `man 4 gif` and each section-5
# page, and that uninstall removes them again.
man-check: build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) -s install DESTDIR="$$tmp" >/dev/null || exit 1; \
	mandir="$$tmp$(MANDIR)"; \
	for page in "gif:man8/gif.8" "4 gif:man4/gif.4" "5 gif-hostname.if:man5/gif-hostname.if.5" \
		"5 gif-sysctl.conf:man5/gif-sysctl.conf.5" "5 gif-ipsec.conf:man5/gif-ipsec.conf.5"; do \
		args=$${page%:*}; want="$$mandir/$${page#*:}"; \
		found=$$(man -M "$$mandir" -w $$args 2>&1); \
		[ "$$found" = "$$want" ] || { echo "man-check: man -w $$args finds '$$found', want $$want"; exit 1; }; \
	done; \
	MANPAGER=cat man -M "$$mandir" 8 gif 2>&1 | grep -q 'gif ifconfig -C' || { echo "man-check: man 8 gif does not render its SYNOPSIS"; exit 1; }; \
	MANPAGER=cat man -M "$$mandir" 4 gif 2>&1 | grep -q 'net.inet.gif.fastpath' || { echo "man-check: man 4 gif does not render its sysctl variables"; exit 1; }; \
	$(MAKE) -s uninstall DESTDIR="$$tmp" >/dev/null || exit 1; \
	if man -M "$$mandir" -w gif >/dev/null 2>&1; then echo "man-check: uninstall leaves gif(8)"; exit 1; fi

# test runs every test: unit, fuzz seeds, and the integration tests that
# build hosts in network namespaces (root); then the bench's unit tests.
# The version check needs a .git directory: Go does not stamp the revision
# in a git worktree, whose .git is a file.
test: deps vet check-generated build man-lint man-check check-unit check-deb
	@if [ -d .git ]; then ./gif version | grep -Eq '^revision [0-9a-f]{40} ' || { ./gif version; echo "gif version names no git revision"; exit 1; }; \
	else echo "gif version: revision not checked (a git worktree; Go stamps only a checkout with a .git directory)"; fi
	$(GO) test -count=1 -timeout 30m ./...
	cd bench && $(GO) test -count=1 ./...

demo: deps build
	./gif demo

# fuzz runs every fuzz target for FUZZTIME, and at the end names those that
# failed. Go 1.26 can fail a target that found nothing with a bare "context
# deadline exceeded" as -fuzztime ends: a race in its fuzzing coordinator,
# golang/go#75804, fixed in Go 1.27. A target that fails so, with no
# failing input written, runs once more; any other failure counts.
fuzz: SHELL := /bin/bash
fuzz:
	@failed=(); log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for pkg in $$($(GO) list ./...); do \
		targets=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$targets"; failed+=("$$pkg (does not build)"); continue; }; \
		for target in $$(grep '^Fuzz' <<<"$$targets"); do \
			for try in 1 2; do \
				echo "fuzz $$pkg $$target"; \
				$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg 2>&1 | tee "$$log"; \
				[ $${PIPESTATUS[0]} = 0 ] && break; \
				if [ $$try = 1 ] && grep -A1 '^--- FAIL: ' "$$log" | grep -qx '    context deadline exceeded' && ! grep -q 'Failing input written to' "$$log"; then \
					echo "fuzz $$target: Go's end-of-fuzztime race (golang/go#75804), nothing found: running it once more"; \
				else \
					failed+=("$$pkg $$target"); break; \
				fi; \
			done; \
		done; \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then printf 'fuzz: failed: %s\n' "$${failed[@]}"; exit 1; fi

# bench measures gif against the bare veth pair and wireguard-go (iperf3,
# ping, CPU, memory, 1,000 gifs, a garbage flood, the micro-benchmarks'
# allocations) and writes bench/results/ and the README's table.
# BENCH_TIME, BENCH_REPS and BENCH_ONLY tune it (bench/main.go).
bench: deps build
	cd bench && $(GO) run .

# install puts the binary, the systemd unit, the manual pages and the
# documentation in place, and creates the configuration directory;
# `systemctl enable --now gif` starts it.
install: build
	install -D -m 0755 gif $(DESTDIR)$(SBINDIR)/gif
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' dist/gif.service > gif.service.tmp
	install -D -m 0644 gif.service.tmp $(DESTDIR)$(UNITDIR)/gif.service
	rm -f gif.service.tmp
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/gif.4.txt $(DESTDIR)$(DOCDIR)/gif.4.txt
	for page in $(MANPAGES); do install -D -m 0644 $$page $(DESTDIR)$(MANDIR)/man$${page##*.}/$${page#man/} || exit 1; done
	install -d -m 0700 $(DESTDIR)$(CONFDIR)
	install -D -m 0644 dist/gif.bash $(DESTDIR)$(COMPLETIONDIR)/gif

# check-unit installs into a scratch root and fails unless systemd-analyze
# security scores the installed unit's exposure at most UNIT_EXPOSURE
# ("OK"). Whether the daemon runs with the unit's capabilities is the
# integration test TestUnitCapabilities.
UNIT_EXPOSURE := 3.0

check-unit: build
	@root=$$(mktemp -d); trap 'rm -rf "$$root"' EXIT; \
	$(MAKE) -s install DESTDIR="$$root" PREFIX=/usr UNITDIR=/usr/lib/systemd/system >/dev/null || exit 1; \
	out=$$(systemd-analyze security --offline=true "$$root/usr/lib/systemd/system/gif.service" 2>&1); \
	level=$$(printf '%s\n' "$$out" | sed -n 's/.*Overall exposure level for gif\.service: \([0-9.]*\) .*/\1/p'); \
	if [ -z "$$level" ]; then printf '%s\n' "$$out"; echo "check-unit: systemd-analyze security gave no overall exposure"; exit 1; fi; \
	if awk -v l="$$level" -v max=$(UNIT_EXPOSURE) 'BEGIN { exit !(l > max) }'; then \
		printf '%s\n' "$$out" | grep '✗'; echo "check-unit: gif.service's exposure is $$level, more than $(UNIT_EXPOSURE)"; exit 1; \
	fi; \
	echo "check-unit: gif.service's exposure is $$level (at most $(UNIT_EXPOSURE))"

# deb builds gif_VERSION_ARCH.deb from what make install puts in a scratch
# root with PREFIX=/usr (dist/debian/build adds what Debian wants), the
# binary built as a position-independent executable, as Debian's are. A
# build from git is version 0~gitDATE.REVISION, by the commit's time in UTC.
DEB_VERSION    ?= 0~git$(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).$(shell git rev-parse --short=12 HEAD)
DEB_ARCH       ?= $(shell dpkg --print-architecture)
DEB_MAINTAINER ?= Seed c54a866a maintainers <maintainers@users.noreply.r-seed-c54a866a.example>
DEB             = gif_$(DEB_VERSION)_$(DEB_ARCH).deb

deb: build
	@stage=$$(mktemp -d); trap 'rm -rf "$$stage"' EXIT; \
	GOFLAGS="$$GOFLAGS -buildmode=pie" $(MAKE) -s install DESTDIR="$$stage" PREFIX=/usr UNITDIR=/usr/lib/systemd/system >/dev/null && \
	GO='$(GO)' dist/debian/build "$$stage" '$(DEB_VERSION)' '$(DEB_ARCH)' '$(DEB_MAINTAINER)' '$(DEB)'

# check-deb builds the package, checks it (dist/debian/check: lintian, then
# its contents unpacked into a scratch root) and removes it.
check-deb: deb
	@dist/debian/check '$(DEB)'; status=$$?; rm -f '$(DEB)'; exit $$status

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gif $(DESTDIR)$(UNITDIR)/gif.service
	for page in $(MANPAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${page##*.}/$${page#man/}; done
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(COMPLETIONDIR)/gif

clean:
	rm -f gif
