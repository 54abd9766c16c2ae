"""Encrypts and decrypts ESP packets with scapy's SecurityAssociation, as an
implementation independent of package ipsec, for its tests.

Reads a JSON list of cases on stdin and writes a JSON list of results:
  {"op": "decrypt", "packet": outer IPv4 packet, ...} -> {"payload", "nh"}
  {"op": "encrypt", "payload": ..., "nh": ..., "seq": ...} -> {"packet"}
Every case also has mode ("tunnel" or "transport"), spi, src, dst, crypt,
ckey, auth and akey; bytes are hex. A failure is {"error": "..."}.
"""
import json
import sys

from scapy.layers.inet import IP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw


def security_association(c):
    tunnel = IP(src=c["src"], dst=c["dst"]) if c["mode"] == "tunnel" else None
    return SecurityAssociation(
        ESP, spi=c["spi"],
        crypt_algo=c["crypt"], crypt_key=bytes.fromhex(c["ckey"]),
        auth_algo=c["auth"], auth_key=bytes.fromhex(c["akey"]),
        tunnel_header=tunnel)


def decrypt(c):
    outer = IP(bytes.fromhex(c["packet"]))
    opened = security_association(c).decrypt(outer)
    if c["mode"] == "tunnel":
        # decrypt leaves the next header in the outer header it drops.
        return {"payload": bytes(opened).hex(), "nh": outer.proto}
    return {"payload": bytes(opened.payload).hex(), "nh": opened.proto}


def encrypt(c):
    payload = bytes.fromhex(c["payload"])
    if c["mode"] == "tunnel":
        inner = IP(payload)
    else:
        inner = IP(src=c["src"], dst=c["dst"], proto=c["nh"]) / Raw(payload)
    sealed = security_association(c).encrypt(inner, seq_num=c["seq"])
    return {"packet": bytes(sealed).hex()}


def main():
    results = []
    for c in json.load(sys.stdin):
        try:
            results.append(decrypt(c) if c["op"] == "decrypt" else encrypt(c))
        except Exception as e:  # reported per case, for the Go test to show
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout)


main()
