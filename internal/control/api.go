package control

import (
	"net/netip"

	"gif/internal/ike"
	"gif/internal/ipsec"
	"gif/internal/ipsec/policy"

	"gif/internal/tunnel"
)

// The control API's methods and their parameters and results, shared by the
// daemon and the CLI. MethodPing, answered by Serve itself, is in control.go.
const (
	MethodIfconfig  = "ifconfig"   // IfconfigParams → ShowResult of that interface
	MethodShow      = "show"       // ShowParams → ShowResult
	MethodSysctlGet = "sysctl.get" // SysctlGetParams → []SysctlValue
	MethodSysctlSet = "sysctl.set" // SysctlSetParams → SysctlValue
	MethodStats     = "stats"      // → Stats
	MethodIPsecLoad = "ipsec.load" // policy.Config → IPsecStatus; replaces what was loaded
	MethodIPsecShow = "ipsec.show" // → IPsecStatus
	MethodIPsecDel  = "ipsec.del"  // policy.Config → IPsecStatus; removes those rules
	// MethodTransaction applies several ifconfig commands as one change
	// (Daemon.ApplyTransaction): TransactionParams → no result.
	MethodTransaction = "transaction"
)

// IfconfigParams applies ops to one interface, all or nothing: a gif or
// bridge, whose configuration the daemon keeps, or any other Linux
// interface, on which it sets up, down and mtu at once and keeps nothing.
type IfconfigParams struct {
	Name string      `json:"name"`
	Ops  []tunnel.Op `json:"ops"`
}

// TransactionParams applies the commands of a Transaction all or nothing,
// or with DryRun only checks them.
type TransactionParams struct {
	tunnel.Transaction
	DryRun bool `json:"dry_run,omitempty"`
}

// ShowParams selects one interface, or every gif and bridge when Name is
// empty.
type ShowParams struct {
	Name string `json:"name,omitempty"`
}

// ShowResult is what ifconfig shows.
type ShowResult struct {
	Interfaces []InterfaceStatus `json:"interfaces,omitempty"` // gif interfaces
	Bridges    []BridgeStatus    `json:"bridges,omitempty"`
	Links      []LinkStatus      `json:"links,omitempty"` // other Linux interfaces, when named
}

// BridgeStatus is a bridge's configuration and what Linux made of it.
type BridgeStatus struct {
	tunnel.BridgeConfig
	Index   int          `json:"index"`
	Running bool         `json:"running"`
	Ports   []LinkStatus `json:"ports"` // the members as Linux has them, in the order of Members
}

// LinkStatus describes a Linux interface gif does not own.
type LinkStatus struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	MTU     int    `json:"mtu"`
	Up      bool   `json:"up"`
	Running bool   `json:"running"`
	MAC     string `json:"mac,omitempty"`
	Master  string `json:"master,omitempty"`
}

// InterfaceStatus is what ifconfig shows of one interface: its
// configuration and what the system made of it.
type InterfaceStatus struct {
	tunnel.Config
	Index     int                   `json:"index"`
	Running   bool                  `json:"running"`
	Bridge    string                `json:"bridge,omitempty"` // the bridge it is a member of: it carries EtherIP
	MAC       string                `json:"mac,omitempty"`    // of its TAP device, as a bridge member
	LinkLocal netip.Addr            `json:"link_local,omitzero"`
	Stats     tunnel.InterfaceStats `json:"stats"`
	// Plane is the data plane that carries the interface, PlaneKernel or
	// PlaneUserspace; PlaneReason says why not the kernel's, when known.
	Plane       string `json:"plane,omitempty"`
	PlaneReason string `json:"plane_reason,omitempty"`
}

// The data planes an interface may be carried by.
const (
	PlaneKernel    = "kernel"    // eBPF programs in the kernel
	PlaneUserspace = "userspace" // the daemon's send and receive loops
)

// SysctlGetParams names the variables to read; none means all.
type SysctlGetParams struct {
	Names []string `json:"names,omitempty"`
}

// SysctlSetParams sets one variable.
type SysctlSetParams struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SysctlValue is one variable and its value.
type SysctlValue struct {
	Name     string `json:"name"`
	Value    int    `json:"value"`
	Previous int    `json:"previous,omitempty"`
}

// IPsecStatus is what ipsecctl -s shows: the flows and the SAs with their
// counters (keys are never shown).
type IPsecStatus struct {
	Flows []policy.Flow `json:"flows,omitempty"`
	SAs   []SAStatus    `json:"sas,omitempty"`
	// IKE is what the key exchanges of ike rules are doing.
	IKE ike.Status `json:"ike"`
}

// SAStatus is one SA without its keys.
type SAStatus struct {
	SPI     uint32     `json:"spi"`
	Src     netip.Addr `json:"src"`
	Dst     netip.Addr `json:"dst"`
	Mode    string     `json:"mode"`
	Auth    string     `json:"auth,omitempty"`
	Enc     string     `json:"enc"`
	Packets uint64     `json:"packets"`
	Bytes   uint64     `json:"bytes"`
	// Expires is the seconds left of an SA an ike rule negotiated, 0 for
	// manual keys.
	Expires int64 `json:"expires,omitempty"`
}

// Stats is everything netstat shows.
type Stats struct {
	IPIP       tunnel.IPIPStats    `json:"ipip"`
	EtherIP    tunnel.EtherIPStats `json:"etherip"`
	ESP        ipsec.Stats         `json:"esp"`
	Interfaces []InterfaceStatus   `json:"interfaces"`
	// KernelPassed is, when the kernel plane runs, how many packets its
	// programs handed to the userspace plane, by reason, in the kernel
	// plane's order of reasons; KernelCarried how many they carried.
	KernelPassed  []PassCount `json:"kernel_passed,omitempty"`
	KernelCarried uint64      `json:"kernel_carried,omitempty"`
}

// PassCount is how many packets the kernel plane handed to the userspace
// plane for one reason (kernel.PassReason's words).
type PassCount struct {
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}
