/**
 * Golden frames: real Linux 6.x traffic between two network namespaces joined by a veth pair
 * (10.99.0.1 / 02:00:00:00:00:0a  <->  10.99.0.2 / 02:00:00:00:00:0b), with checksum offload
 * off, made once by `test/wire/golden/capture.sh` and pasted here by `pcap-to-ts.ts`. Each comment
 * is tcpdump's own decoding of the record (`tcpdump -nn -S -t -v -e`). Frames are as captured:
 * no Ethernet FCS and no padding (a veth does not pad to 60 bytes; tests add padding themselves).
 * @module
 */

/** Bytes of a hex string (whitespace-free, even length). */
export function hex(s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new Error(`bad hex fixture: ${s.slice(0, 20)}…`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

/** #0: 02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has 10.99.0.2 tell 10.99.0.1, length 28 */
export const arpRequest = hex(
  'ffffffffffff02000000000a0806000108000604000102000000000a0a630001' +
  '0000000000000a630002',
);

/** #1: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Reply 10.99.0.2 is-at 02:00:00:00:00:0b, length 28 */
export const arpReply = hex(
  '02000000000a02000000000b0806000108000604000202000000000b0a630002' +
  '02000000000a0a630001',
);

/** #2: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 98: (tos 0x0, ttl 64, id 59197, offset 0, flags [DF], proto ICMP (1), length 84) 10.99.0.1 > 10.99.0.2: ICMP echo request, id 8500, seq 1, length 64 */
export const icmpEchoRequest = hex(
  '02000000000b02000000000a080045000054e73d400040013ea30a6300010a63' +
  '0002080043c521340001ec72036b00000000a8360a0000000000a5a5a5a5a5a5' +
  'a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5' +
  'a5a5',
);

/** #3: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype IPv4 (0x0800), length 98: (tos 0x0, ttl 64, id 9172, offset 0, flags [none], proto ICMP (1), length 84) 10.99.0.2 > 10.99.0.1: ICMP echo reply, id 8500, seq 1, length 64 */
export const icmpEchoReply = hex(
  '02000000000a02000000000b08004500005423d400004001420d0a6300020a63' +
  '000100004bc521340001ec72036b00000000a8360a0000000000a5a5a5a5a5a5' +
  'a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5' +
  'a5a5',
);

/** #4: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 49: (tos 0x0, ttl 64, id 57392, offset 0, flags [DF], proto UDP (17), length 35) 10.99.0.1.40000 > 10.99.0.2.7777: UDP, length 7 */
export const udpOddPayload = hex(
  '02000000000b02000000000a080045000023e0304000401145d10a6300010a63' +
  '00029c401e61000f7519766e65746b6974',
);

/** #5: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype IPv4 (0x0800), length 77: (tos 0xc0, ttl 64, id 9183, offset 0, flags [none], proto ICMP (1), length 63) 10.99.0.2 > 10.99.0.1: ICMP 10.99.0.2 udp port 7777 unreachable, length 43 (tos 0x0, ttl 64, id 57392, offset 0, flags [DF], proto UDP (17), length 35) 10.99.0.1.40000 > 10.99.0.2.7777: UDP, length 7 */
export const icmpPortUnreachable = hex(
  '02000000000a02000000000b080045c0003f23df0000400141570a6300020a63' +
  '0001030311e60000000045000023e0304000401145d10a6300010a6300029c40' +
  '1e61000f7519766e65746b6974',
);

/** #6: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 54: (tos 0x0, ttl 64, id 57393, offset 0, flags [DF], proto UDP (17), length 40, options (RR 10.99.0.1,,EOL)) 10.99.0.1.40000 > 10.99.0.2.7777: UDP, length 4 */
export const udpIpOptions = hex(
  '02000000000b02000000000a080047000028e03140004011d0b90a6300010a63' +
  '00020707080a630001009c401e61000c4c886f707473',
);

/** #8: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 106: (tos 0x0, ttl 64, id 59265, offset 0, flags [+], proto ICMP (1), length 92) 10.99.0.1 > 10.99.0.2: ICMP echo request, id 8595, seq 1, length 72 */
export const fragmentFirst = hex(
  '02000000000b02000000000a08004500005ce781200040015e570a6300010a63' +
  '00020800782021930001ed72036b00000000999a0100000000005a5a5a5a5a5a' +
  '5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a' +
  '5a5a5a5a5a5a5a5a5a5a',
);

/** #9: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 70: (tos 0x0, ttl 64, id 59265, offset 72, flags [none], proto ICMP (1), length 56) 10.99.0.1 > 10.99.0.2: ip-proto-1 */
export const fragmentLast = hex(
  '02000000000b02000000000a080045000038e781000940017e720a6300010a63' +
  '00025a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a' +
  '5a5a5a5a5a5a',
);

/** #12: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 74: (tos 0x0, ttl 64, id 21618, offset 0, flags [DF], proto TCP (6), length 60) 10.99.0.1.39788 > 10.99.0.2.5001: Flags [S], cksum 0xfda4 (correct), seq 2654726708, win 64240, options [mss 1460,sackOK,TS val 4277077065 ecr 0,nop,wscale 10], length 0 */
export const tcpSyn = hex(
  '02000000000b02000000000a08004500003c547240004006d1810a6300010a63' +
  '00029b6c13899e3bea3400000000a002faf0fda40000020405b40402080afeef' +
  '0449000000000103030a',
);

/** #13: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype IPv4 (0x0800), length 74: (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60) 10.99.0.2.5001 > 10.99.0.1.39788: Flags [S.], cksum 0xd3e3 (correct), seq 1506437552, ack 2654726709, win 65160, options [mss 1460,sackOK,TS val 2334381945 ecr 4277077065,nop,wscale 10], length 0 */
export const tcpSynAck = hex(
  '02000000000a02000000000b08004500003c00004000400625f40a6300020a63' +
  '000113899b6c59ca69b09e3bea35a012fe88d3e30000020405b40402080a8b23' +
  'd779feef04490103030a',
);

/** #15: 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype IPv4 (0x0800), length 166: (tos 0x0, ttl 64, id 21620, offset 0, flags [DF], proto TCP (6), length 152) 10.99.0.1.39788 > 10.99.0.2.5001: Flags [P.], cksum 0x41d2 (correct), seq 2654726709:2654726809, ack 1506437553, win 63, options [nop,nop,TS val 4277077065 ecr 2334381945], length 100 */
export const tcpData = hex(
  '02000000000b02000000000a080045000098547440004006d1230a6300010a63' +
  '00029b6c13899e3bea3559ca69b18018003f41d200000101080afeef04498b23' +
  'd779414141414141414141414141414141414141414141414141414141414141' +
  '4141414141414141414141414141414141414141414141414141414141414141' +
  '4141414141414141414141414141414141414141414141414141414141414141' +
  '414141414141',
);

/** #19: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype IPv4 (0x0800), length 78: (tos 0x0, ttl 64, id 38134, offset 0, flags [DF], proto TCP (6), length 64) 10.99.0.2.5001 > 10.99.0.1.39788: Flags [.], cksum 0xb5b3 (correct), ack 2654726809, win 64, options [nop,nop,TS val 2334382047 ecr 4277077065,nop,nop,sack 1 {2654727009:2654727309}], length 0 */
export const tcpSackAck = hex(
  '02000000000a02000000000b08004500004094f64000400690f90a6300020a63' +
  '000113899b6c59ca69b19e3bea99b0100040b5b300000101080a8b23d7dffeef' +
  '04490101050a9e3beb619e3bec8d',
);

/** #23: 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype IPv4 (0x0800), length 66: (tos 0x0, ttl 64, id 38136, offset 0, flags [DF], proto TCP (6), length 52) 10.99.0.2.5001 > 10.99.0.1.39788: Flags [F.], cksum 0xfc3a (correct), seq 1506437553, ack 2654727309, win 64, options [nop,nop,TS val 2334382253 ecr 4277077373], length 0 */
export const tcpFin = hex(
  '02000000000a02000000000b08004500003494f84000400691030a6300020a63' +
  '000113899b6c59ca69b19e3bec8d80110040fc3a00000101080a8b23d8adfeef' +
  '057d',
);
