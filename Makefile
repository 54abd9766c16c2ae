# gif: build, test, demo, fuzz, bench. Run as root on Debian (the tests build
# network namespaces); `make deps` installs the Debian tools they need.

GO       ?= go
FUZZTIME ?= 20s
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
DOCDIR   ?= $(PREFIX)/share/doc/gif
UNITDIR  ?= /etc/systemd/system
CONFDIR  ?= /etc/gif
DEB_PKGS := iproute2 iputils-ping tshark iperf3 python3-scapy systemd openssl strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins

.PHONY: all build deps test demo fuzz bench vet install uninstall clean

all: build

build:
	$(GO) build -o gif ./cmd/gif

# deps installs what is missing, and nothing when all is there.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || { gofmt -l cmd internal; echo "gofmt: files above need formatting"; exit 1; }

# test runs every test: unit, fuzz seeds, and the integration tests that
# build hosts in network namespaces (root).
test: deps vet
	$(GO) test -count=1 -timeout 30m ./...

demo: deps build
	./gif demo

# fuzz runs each fuzz target for FUZZTIME.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# bench measures gif against the bare veth pair and wireguard-go (iperf3,
# ping, CPU, memory, 1,000 gifs, a garbage flood, the micro-benchmarks'
# allocations) and writes bench/results/ and the README's table.
# BENCH_TIME, BENCH_REPS and BENCH_ONLY tune it (bench/main.go).
bench: build
	@$(MAKE) --no-print-directory deps DEB_PKGS="iperf3 wireguard-tools iproute2 iputils-ping"
	$(GO) run ./bench

# install puts the binary, the systemd unit and the documentation in place,
# and creates the configuration directory; `systemctl enable --now gif`
# starts it.
install: build
	install -D -m 0755 gif $(DESTDIR)$(SBINDIR)/gif
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/gif.service > gif.service.tmp
	install -D -m 0644 gif.service.tmp $(DESTDIR)$(UNITDIR)/gif.service
	rm -f gif.service.tmp
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/gif.4.txt $(DESTDIR)$(DOCDIR)/gif.4.txt
	install -d -m 0700 $(DESTDIR)$(CONFDIR)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gif $(DESTDIR)$(UNITDIR)/gif.service
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -f gif
