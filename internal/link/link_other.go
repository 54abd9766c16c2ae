//go:build !linux

package link

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

var errUnsupported = fmt.Errorf("link: not supported on %s", runtime.GOOS)

func CreateTUN(name string, mtu int) (Device, error)       { return nil, errUnsupported }
func SetUp(name string, up bool) error                     { return errUnsupported }
func SetMTU(name string, mtu int) error                    { return errUnsupported }
func SetLLAddr(name string, mac net.HardwareAddr) error    { return errUnsupported }
func AddAddr(name string, a Addr) error                    { return errUnsupported }
func DelAddr(name string, a Addr) error                    { return errUnsupported }
func Addrs(name string) ([]Addr, error)                    { return nil, errUnsupported }
func LocalAddrs() ([]Addr, error)                          { return nil, errUnsupported }
func SetIPv6Disabled(name string, disabled bool) error     { return errUnsupported }
func Index(name string) (int, error)                       { return 0, errUnsupported }
func Exists(name string) bool                              { return false }
func Delete(name string) error                             { return errUnsupported }
func LinkStats(name string) (Stats, error)                 { return Stats{}, errUnsupported }
func LinkLocal() (netip.Addr, error)                       { return netip.Addr{}, errUnsupported }
func WatchAddrs(ctx context.Context, changed func()) error { return errUnsupported }
func AddDomainRules(family, domain int) error              { return errUnsupported }
func DelDomainRules(family, domain int) error              { return errUnsupported }
func CreateTAP(name string, mtu int) (Device, error)       { return nil, errUnsupported }
func CreateBridge(name string) error                       { return errUnsupported }
func DeleteBridge(name string) error                       { return errUnsupported }
func SetMaster(member, bridge string) error                { return errUnsupported }
func SetNoMaster(member string) error                      { return errUnsupported }
func BridgeMembers(bridge string) ([]string, error)        { return nil, errUnsupported }
func Info(name string) (LinkInfo, error)                   { return LinkInfo{}, errUnsupported }
