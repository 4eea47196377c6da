#!/usr/bin/env bash
# Regenerates the golden frames pasted into test/wire/*.test.ts. Run by hand, as root, once:
#   bash test/wire/golden/capture.sh /tmp/vnk-golden
# It is NOT run by the tests. Network safety: every packet stays on a veth pair between two
# network namespaces this script creates (vnk-a 10.99.0.1 <-> vnk-b 10.99.0.2) and deletes.
# Transmit checksum offload is turned off so the kernel writes real L4 checksums (on `lo` the
# capture would hold CHECKSUM_PARTIAL pseudo-header sums instead).
# Needs: ip, ethtool, nft, tcpdump, ping (iputils), python3.
set -euo pipefail
out=${1:-/tmp/vnk-golden}
mkdir -p "$out"
cleanup() {
  [[ -n "${dump:-}" ]] && kill "$dump" 2>/dev/null || true
  ip netns del vnk-a 2>/dev/null || true
  ip netns del vnk-b 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add vnk-a
ip netns add vnk-b
ip link add vnk0 netns vnk-a address 02:00:00:00:00:0a type veth peer name vnk1 netns vnk-b address 02:00:00:00:00:0b
ip -n vnk-a addr add 10.99.0.1/24 dev vnk0
ip -n vnk-b addr add 10.99.0.2/24 dev vnk1
for ns in vnk-a vnk-b; do
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $ns link set lo up
done
ip -n vnk-a link set vnk0 up
ip -n vnk-b link set vnk1 up
ip netns exec vnk-a ethtool -K vnk0 tx off rx off tso off gso off >/dev/null
ip netns exec vnk-b ethtool -K vnk1 tx off rx off tso off gso off >/dev/null
ip netns exec vnk-b tcpdump -i vnk1 -U -s 0 -w "$out/golden.pcap" 2>/dev/null &
dump=$!
sleep 1

# 1. ARP request/reply, ICMP echo request/reply (8 payload bytes of 0xa5 after the timestamp).
ip netns exec vnk-a ping -c 1 -W 1 -s 56 -p a5 10.99.0.2 >/dev/null
# 2. UDP with an odd-length payload; then UDP to a closed port (ICMP port unreachable back).
ip netns exec vnk-a python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.99.0.1', 40000))
s.sendto(b'vnetkit', ('10.99.0.2', 7777))
# 3. IPv4 header options (IHL 7): a Record Route option (RFC 791) set with IP_OPTIONS.
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([7, 7, 4, 0, 0, 0, 0, 0]))
s.sendto(b'opts', ('10.99.0.2', 7777))
PY
sleep 0.2
# 4. A fragmented datagram: 108 bytes of ICMP echo over a 96-byte MTU (small, to paste).
ip -n vnk-a link set vnk0 mtu 96
ip -n vnk-b link set vnk1 mtu 96
ip netns exec vnk-a ping -c 1 -W 1 -s 100 -M dont -p 5a 10.99.0.2 >/dev/null
ip -n vnk-a link set vnk0 mtu 1500
ip -n vnk-b link set vnk1 mtu 1500
# 5. TCP: Linux SYN (MSS, SACK-permitted, timestamps, window scale), data, a dropped segment so
# the receiver answers with SACK blocks (RFC 2018), then FIN. The drop is on vnk-b's input (a
# local drop on vnk-a's output would only stall its send queue); the capture still shows it.
ip netns exec vnk-b nft -f - <<'NFT'
table inet vnk {
  chain in { type filter hook input priority 0; tcp dport 5001 ip length 252 counter drop; }
}
NFT
ip netns exec vnk-b python3 - <<'PY' &
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.99.0.2', 5001)); l.listen(1); l.settimeout(5)
c, _ = l.accept(); c.settimeout(5)
got = b''
while len(got) < 600:
    d = c.recv(4096)
    if not d: break
    got += d
c.close()
PY
srv=$!
sleep 0.3
ip netns exec vnk-a python3 - <<'PY'
import socket, time, subprocess
c = socket.create_connection(('10.99.0.2', 5001), timeout=5)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.send(b'A' * 100); time.sleep(0.05)
c.send(b'B' * 200); time.sleep(0.05)   # 20 + 32 + 200 = 252 bytes of IP: dropped once
c.send(b'C' * 300); time.sleep(0.1)
subprocess.run(['ip', 'netns', 'exec', 'vnk-b', 'nft', 'delete', 'table', 'inet', 'vnk'], check=True)
time.sleep(1.5)                          # the retransmission timer resends the 200 bytes
c.close(); time.sleep(0.2)
PY
wait $srv
sleep 0.5
kill $dump; wait $dump 2>/dev/null || true
dump=
tcpdump -r "$out/golden.pcap" -nn -vv -e > "$out/golden.txt" 2>&1
tcpdump -r "$out/golden.pcap" -nn -xx > "$out/golden.hex" 2>&1
echo "wrote $out/golden.pcap, golden.txt (decoded), golden.hex"
