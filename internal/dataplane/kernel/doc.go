// Package kernel is gif's kernel data plane: tc programs (bpf/gif.c)
// carry the IP-mode tunnels the kernel can carry exactly as the userspace
// plane would, and hand every other packet to the userspace plane they
// wrap. The daemon publishes the same View to it; it keeps the programs'
// maps in line with the view and folds their counters into the plane's.
package kernel
