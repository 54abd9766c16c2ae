package kernel

// The tc programs in bpf/gif.c, compiled by clang into gif_bpfel.o and
// wrapped by gif_bpfel.go (both committed: go build needs no clang).
// `make generate` runs this; `make test` checks the committed files match.
// -idirafter finds Debian's multiarch <asm/...> headers for the BPF target
// (a directory that does not exist is skipped).
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -tags linux -type egress_tunnel -type ingress_key -type ingress_tunnel gif bpf/gif.c -- -O2 -g -Wall -Werror -idirafter /usr/include/x86_64-linux-gnu -idirafter /usr/include/aarch64-linux-gnu
