# Writes tunnels.pcap, the capture that capture_test.go decodes:
#   /usr/bin/python3 tunnels.py
from scapy.all import Ether, IP, IPv6, ICMP, ICMPv6EchoRequest, ICMPv6PacketTooBig, Raw, fragment, wrpcap
from scapy.contrib.etherip import EtherIP

def eth(pkt):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt

packets = [
    # IPv4 in IPv4.
    eth(IP(src="192.0.2.1", dst="192.0.2.2", ttl=33, flags="DF", tos=0x01, id=77)
        / IP(src="198.51.100.1", dst="198.51.100.2", ttl=9, tos=0x02, id=5) / ICMP()),
    # IPv6 in IPv4.
    eth(IP(src="192.0.2.1", dst="192.0.2.2", ttl=34)
        / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1", hlim=7, tc=0xb8, fl=12345) / ICMPv6EchoRequest()),
    # IPv4 in IPv6.
    eth(IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=40, tc=0x03, fl=999)
        / IP(src="198.51.100.1", dst="198.51.100.2", ttl=9) / ICMP()),
    # EtherIP over IPv4 and over IPv6.
    eth(IP(src="192.0.2.1", dst="192.0.2.2") / EtherIP() / Ether()
        / IP(src="198.51.100.1", dst="198.51.100.2", ttl=5) / ICMP()),
    eth(IPv6(src="2001:db8::1", dst="2001:db8::2", nh=97) / EtherIP() / Ether()
        / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1", hlim=3) / ICMPv6EchoRequest()),
    # Errors quoting tunnelled packets.
    eth(IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type=3, code=4, nexthopmtu=1400)
        / IP(src="192.0.2.1", dst="192.0.2.2", proto=4, flags="DF")
        / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP()),
    eth(IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6PacketTooBig(mtu=1280)
        / IPv6(src="2001:db8::1", dst="2001:db8::2", nh=4)
        / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP()),
    # IPv4 in IPv4 in two fragments of 64 and 44 bytes.
    *fragment(eth(IP(src="192.0.2.1", dst="192.0.2.2", proto=4, id=9)
                  / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP() / Raw(b"x" * 80)), fragsize=64),
]
wrpcap("tunnels.pcap", packets)
