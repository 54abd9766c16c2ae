package daemon

import (
	"net/netip"

	"gif/internal/tunnel"
)

// The control API's methods and their parameters and results, shared by the
// daemon and the CLI.
const (
	MethodPing      = "ping"
	MethodIfconfig  = "ifconfig"   // IfconfigParams → InterfaceStatus
	MethodShow      = "show"       // ShowParams → []InterfaceStatus
	MethodSysctlGet = "sysctl.get" // SysctlGetParams → []SysctlValue
	MethodSysctlSet = "sysctl.set" // SysctlSetParams → SysctlValue
	MethodStats     = "stats"      // → Stats
)

// PingResult says who answered.
type PingResult struct {
	PID       int    `json:"pid"`
	Namespace string `json:"namespace"`
	StateFile string `json:"state_file"`
}

// IfconfigParams applies ops to one interface, all or nothing.
type IfconfigParams struct {
	Name string      `json:"name"`
	Ops  []tunnel.Op `json:"ops"`
}

// ShowParams selects one interface, or all when Name is empty.
type ShowParams struct {
	Name string `json:"name,omitempty"`
}

// InterfaceStatus is what ifconfig shows of one interface: its
// configuration and what the system made of it.
type InterfaceStatus struct {
	tunnel.Config
	Index     int                   `json:"index"`
	Running   bool                  `json:"running"`
	LinkLocal netip.Addr            `json:"link_local,omitzero"`
	Stats     tunnel.InterfaceStats `json:"stats"`
}

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

// Stats is everything netstat shows.
type Stats struct {
	IPIP       tunnel.IPIPStats  `json:"ipip"`
	Interfaces []InterfaceStatus `json:"interfaces"`
}
