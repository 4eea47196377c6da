/*
 * tap-relay: connect a Linux TAP device to a vnetkit transport over a Unix stream socket.
 *
 * A network namespace with this relay in it behaves like a VM whose NIC is a socket: every
 * Ethernet frame the namespace's kernel sends on the TAP goes to the socket, and every frame
 * from the socket is injected into the TAP. Run it inside the namespace, e.g.
 *   ip netns exec NS tap-relay --tap tap0 --connect /tmp/vnet.sock --framing qemu
 *
 * Framings (protocols.md):
 *   qemu   u32 big-endian length + frame, no handshake (§6, QEMU -netdev stream)
 *   stdio  u16 little-endian length + frame, no handshake (§6, gvisor-tap-vsock "stdio")
 *   vmnet  the HyperKit/vpnkit client handshake (§1.2-§1.5), then u16 LE framing (§1.6)
 * --hybrid-vsock-port N first sends "CONNECT N\n" and wants "OK <port>\n" back (§2.6).
 * --sndbuf BYTES shrinks the socket's send buffer so that tests can force partial writes.
 *
 * Speed: the relay also carries benchmarks (test/bench/guest-path.bench.ts), so it must not be
 * the slowest hop. Each wakeup drains both sides: socket reads of up to 1 MiB are cut into
 * frames in place, and all TAP frames that are ready go out in one sendmmsg() (flush_out).
 *
 * Output: "vif mtu=N max_packet=N mac=.." (vmnet only), then "ready" on stdout once the TAP
 * is up and the peer is connected. Exit status: 0 when the peer closes the stream, 1 on
 * errors, 2 on bad usage, 3 when a vmnet server answers with a Disconnect response.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* 65535 is the largest IPv4 packet; plus the 14-byte Ethernet header. */
#define MAX_FRAME (65535 + 14)
#define MIN_FRAME 14 /* an Ethernet header; the kernel rejects anything shorter */
/*
 * Both directions batch. One read() from the socket can carry many frames (at MTU 1500 a
 * 1 MiB read is ~700 of them), and every TAP frame that is ready when we wake up is packed
 * behind the previous one into `out`, so a burst toward the peer costs one sendmmsg().
 * With one poll() per frame the relay capped both peers at ~1.3-1.5 Gbit/s.
 */
#define IN_BUF (1 << 20)
#define OUT_BUF (1 << 20)
/* Socket reads per wakeup before the TAP side gets its turn (fairness between directions). */
#define SOCK_READS_PER_WAKEUP 8
/* Socket buffer asked for when --sndbuf is not given: room for several 64 KiB frames in flight. */
#define DEFAULT_SOCK_BUF (2 << 20)
#define HANDSHAKE_TIMEOUT_S 30

enum framing { QEMU, STDIO, VMNET };

static const char *prog = "tap-relay";

static void die(int code, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static void usage(void) {
	fprintf(stderr,
		"usage: %s --tap NAME --connect PATH [--framing qemu|vmnet|stdio] [--mac xx:xx:xx:xx:xx:xx]\n"
		"       [--mtu N] [--uuid UUID] [--preferred-ip A.B.C.D] [--hybrid-vsock-port N] [--sndbuf BYTES]\n",
		prog);
	exit(2);
}

/* ---- blocking I/O helpers for the handshake phase ------------------------------------ */

/* Read exactly n bytes; the socket has SO_RCVTIMEO set, so a silent peer is an error. */
static void read_exact(int fd, void *buf, size_t n, const char *what) {
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die(1, "timed out after %ds waiting for %s (%zu of %zu bytes)", HANDSHAKE_TIMEOUT_S, what, got, n);
		if (r < 0) die(1, "reading %s: %s", what, strerror(errno));
		if (r == 0) die(1, "peer closed the connection while we waited for %s (%zu of %zu bytes)", what, got, n);
		got += (size_t)r;
	}
}

static void write_all(int fd, const void *buf, size_t n, const char *what) {
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0) die(1, "writing %s: %s", what, strerror(errno));
		done += (size_t)w;
	}
}

/* ---- TAP configuration ---------------------------------------------------------------- */

static int open_tap(const char *name) {
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) die(1, "open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	/* IFF_NO_PI: no 4-byte packet-info prefix, so reads and writes are bare Ethernet frames. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) die(1, "TUNSETIFF %s: %s", name, strerror(errno));
	return fd;
}

/* Interface ioctls (MAC, MTU, flags) go through any socket of the current namespace. */
static void if_ioctl(const char *name, unsigned long req, struct ifreq *ifr, const char *what) {
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) die(1, "socket for %s: %s", what, strerror(errno));
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, req, ifr) < 0) die(1, "%s on %s: %s", what, name, strerror(errno));
	close(s);
}

static void set_mac(const char *name, const uint8_t mac[6]) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if_ioctl(name, SIOCSIFHWADDR, &ifr, "setting the MAC address");
}

static void set_mtu(const char *name, int mtu) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_mtu = mtu;
	if_ioctl(name, SIOCSIFMTU, &ifr, "setting the MTU");
}

static void set_up(const char *name) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	if_ioctl(name, SIOCGIFFLAGS, &ifr, "reading the interface flags");
	ifr.ifr_flags |= IFF_UP;
	if_ioctl(name, SIOCSIFFLAGS, &ifr, "bringing the interface up");
}

static int parse_mac(const char *s, uint8_t mac[6]) {
	unsigned v[6];
	char tail;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6) return -1;
	for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
	return 0;
}

/* ---- connection and handshakes ---------------------------------------------------------- */

static int connect_unix(const char *path) {
	struct sockaddr_un sa;
	struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_S};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die(1, "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path)
		die(1, "socket path is %zu bytes, the limit is %zu: %s", strlen(path), sizeof sa.sun_path - 1, path);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die(1, "connect %s: %s", path, strerror(errno));
	/* Bound every handshake read; cleared again before the frame phase. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* protocols.md §2.6: "CONNECT <port>\n" -> "OK <host port>\n". Read the answer one byte at a
 * time so that no frame bytes following the newline are consumed here. */
static void hybrid_vsock_connect(int fd, unsigned port) {
	char line[64];
	size_t n = 0;
	int len = snprintf(line, sizeof line, "CONNECT %u\n", port);
	write_all(fd, line, (size_t)len, "the hybrid-vsock CONNECT line");
	for (;;) {
		if (n == 32) die(1, "hybrid-vsock: no newline in the first 32 bytes of the answer");
		read_exact(fd, line + n, 1, "the hybrid-vsock OK line");
		if (line[n] == '\n') break;
		n++;
	}
	line[n] = '\0';
	char *end = NULL;
	if (strncmp(line, "OK ", 3) != 0 || strtoul(line + 3, &end, 10) == 0 || *end != '\0')
		die(1, "hybrid-vsock: expected \"OK <port>\", got \"%s\"", line);
}

#define VMNET_VERSION 22 /* protocols.md §1.3 */

/* protocols.md §1.2-§1.5. Prints the vif line; sets mac/mtu for the caller to apply. */
static void vmnet_handshake(int fd, const char *uuid, const struct in_addr *preferred_ip, uint8_t mac[6], int *mtu) {
	uint8_t init[49], cmd[41], resp[258];

	memcpy(init, "VMN3T", 5);
	init[5] = VMNET_VERSION, init[6] = init[7] = init[8] = 0; /* u32 LE */
	memset(init + 9, '0', 40);                                /* commit: 40 ASCII chars */
	write_all(fd, init, sizeof init, "the vmnet Init");

	read_exact(fd, init, sizeof init, "the server's vmnet Init (49 bytes)");
	if (memcmp(init, "VMN3T", 5) != 0)
		die(1, "vmnet: bad magic in the server Init: %02x %02x %02x %02x %02x", init[0], init[1], init[2], init[3], init[4]);
	uint32_t version = init[5] | init[6] << 8 | init[7] << 16 | (uint32_t)init[8] << 24;
	if (version != VMNET_VERSION) die(1, "vmnet: server protocol version %u, want %u", version, VMNET_VERSION);

	/* §1.4: 36 NUL bytes instead of a UUID ask the server to make one up. */
	memset(cmd, 0, sizeof cmd);
	cmd[0] = preferred_ip ? 8 : 1;
	if (uuid) memcpy(cmd + 1, uuid, 36);
	if (preferred_ip) {
		uint32_t v = ntohl(preferred_ip->s_addr); /* §1.4: the numeric address as u32 LE, octets reversed */
		cmd[37] = v & 0xff, cmd[38] = v >> 8 & 0xff, cmd[39] = v >> 16 & 0xff, cmd[40] = v >> 24;
	}
	write_all(fd, cmd, sizeof cmd, "the vmnet command");

	read_exact(fd, resp, sizeof resp, "the vmnet response (258 bytes)");
	if (resp[0] == 2) { /* §1.5 Disconnect: length byte, then the reason text */
		fprintf(stderr, "disconnect: %.*s\n", resp[1], (const char *)resp + 2);
		exit(3);
	}
	if (resp[0] != 1) die(1, "vmnet: unknown response type %u", resp[0]);
	*mtu = resp[1] | resp[2] << 8;
	int max_packet = resp[3] | resp[4] << 8;
	memcpy(mac, resp + 5, 6);
	printf("vif mtu=%d max_packet=%d mac=%02x:%02x:%02x:%02x:%02x:%02x\n", *mtu, max_packet, mac[0], mac[1], mac[2],
	       mac[3], mac[4], mac[5]);
}

/* ---- frame phase ----------------------------------------------------------------------------- */

static size_t header_len(enum framing f) { return f == QEMU ? 4 : 2; }

static size_t decode_len(enum framing f, const uint8_t *p) {
	if (f == QEMU) return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	return (size_t)p[0] | (size_t)p[1] << 8;
}

static void encode_len(enum framing f, uint8_t *p, size_t n) {
	if (f == QEMU) p[0] = 0, p[1] = n >> 16 & 0xff, p[2] = n >> 8 & 0xff, p[3] = n & 0xff;
	else p[0] = n & 0xff, p[1] = n >> 8 & 0xff;
}

/*
 * Socket -> TAP: bytes accumulate in `in` until whole frames are present; each whole frame is
 * one write() to the TAP (TAP writes are all-or-nothing, one packet each). Returns 0 on EOF.
 */
static int sock_to_tap(int sock, int tap, enum framing f, uint8_t *in, size_t *in_len, unsigned long *tap_drops) {
	size_t hl = header_len(f), max_frame = f == QEMU ? MAX_FRAME : 65535; /* u16 framings cannot say more */
	for (int reads = 0; reads < SOCK_READS_PER_WAKEUP; reads++) {
		ssize_t r = read(sock, in + *in_len, IN_BUF - *in_len);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && errno == EAGAIN) return 1;
		if (r < 0) die(1, "socket read: %s", strerror(errno));
		if (r == 0) {
			if (*in_len) fprintf(stderr, "%s: peer closed mid-frame (%zu bytes pending)\n", prog, *in_len);
			return 0;
		}
		*in_len += (size_t)r;
		size_t off = 0;
		while (*in_len - off >= hl) {
			size_t n = decode_len(f, in + off);
			if (n < MIN_FRAME || n > max_frame) die(1, "peer sent a frame length of %zu bytes (allowed %d..%zu)", n, MIN_FRAME, max_frame);
			if (*in_len - off < hl + n) break; /* the rest of this frame is still in flight */
			if (write(tap, in + off + hl, n) < 0) {
				/* EIO/EINVAL: the kernel refused this one frame (link down, bad header); a NIC
				 * would drop it too, so count it and carry on. */
				if (errno != EIO && errno != EINVAL && errno != ENOBUFS && errno != EAGAIN) die(1, "TAP write: %s", strerror(errno));
				if ((*tap_drops)++ < 10) fprintf(stderr, "%s: TAP refused a %zu-byte frame: %s\n", prog, n, strerror(errno));
			}
			off += hl + n;
		}
		memmove(in, in + off, *in_len - off); /* keep only the split tail (< one frame) */
		*in_len -= off;
		if ((size_t)r < IN_BUF / 2) return 1; /* a short read: the socket is (nearly) empty */
	}
	return 1;
}

/*
 * TAP -> `out`: appends every frame the TAP has ready, each behind its length header, while a
 * largest frame still fits. Frames are only ever appended whole, so the byte stream written
 * from `out` is never torn or reordered. When `out` is full we stop reading the TAP (the
 * kernel queues, then drops, like a busy NIC).
 */
static void tap_to_out(int tap, enum framing f, uint8_t *out, size_t *out_off, size_t *out_len, unsigned long *tap_drops) {
	size_t hl = header_len(f), max_frame = f == QEMU ? MAX_FRAME : 65535;
	for (;;) {
		if (OUT_BUF - *out_len < hl + MAX_FRAME) {
			if (*out_off == 0) return; /* full */
			memmove(out, out + *out_off, *out_len - *out_off); /* rare: only after a partial write */
			*out_len -= *out_off, *out_off = 0;
			continue;
		}
		ssize_t n = read(tap, out + *out_len + hl, MAX_FRAME);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && errno == EAGAIN) return;
		if (n < 0) die(1, "TAP read: %s", strerror(errno));
		if (n == 0) return;
		if ((size_t)n > max_frame) {
			if ((*tap_drops)++ < 10) fprintf(stderr, "%s: dropped a %zd-byte frame, too big for this framing\n", prog, n);
			continue;
		}
		encode_len(f, out + *out_len, (size_t)n);
		*out_len += hl + (size_t)n;
	}
}

/* Frames per sendmmsg(): 1 MiB of 1514-byte frames is ~690. */
#ifndef MAX_BATCH
#define MAX_BATCH 1024
#endif

/*
 * What the kernel charges a frame against the send buffer (skb truesize): one frame per skb
 * (below), so a 1514-byte frame costs a 2 KiB slab plus the sk_buff; big frames ~1% over.
 */
static long frame_charge(size_t len) { return (long)len + 1024 + (long)len / 16; }

/*
 * Writes out whole frames, one message per frame, in one sendmmsg() call. Why not one write()
 * of the whole batch: a Unix stream socket cuts a write into ~32 KiB skbs regardless of frame
 * boundaries, and a reader can see a frame's head before its tail. passt 2023-03
 * (tap_handler_passt) drops the rest of its read when a frame is torn that way or when a
 * read ends inside a length header, and with 1 MiB writes it retransmitted thousands of
 * times per second. QEMU writes one frame per writev(), so every frame starts a fresh skb;
 * so do we, without a syscall per frame. Only frames that fit in the free send buffer are
 * sent, so that no message is cut short (which would let the next one overtake its tail);
 * a frame that can never fit (a tiny --sndbuf) is written alone and may tear, then its tail
 * goes first. Returns 0 when the peer went away.
 */
static int flush_out(int sock, enum framing f, int sndbuf_eff, uint8_t *out, size_t *out_off, size_t *out_len, size_t *torn_left) {
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	size_t hl = header_len(f);
	while (*out_off < *out_len) {
		int outq = 0, n = 0;
		if (ioctl(sock, SIOCOUTQ, &outq) < 0) outq = 0;
		long room = (long)sndbuf_eff - outq;
		size_t pos = *out_off;
		if (*torn_left) {
			iov[n++] = (struct iovec){out + pos, *torn_left};
			room -= frame_charge(*torn_left), pos += *torn_left;
		}
		while (pos < *out_len && n < MAX_BATCH) {
			size_t len = hl + decode_len(f, out + pos);
			if (frame_charge(len) > room && (n > 0 || frame_charge(len) <= sndbuf_eff / 2)) break;
			iov[n++] = (struct iovec){out + pos, len};
			room -= frame_charge(len), pos += len;
			if (room < 0) break; /* the frame that can never fit goes alone */
		}
		if (n == 0) return 1; /* wait for POLLOUT */
		for (int i = 0; i < n; i++) msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		int r = sendmmsg(sock, msgs, (unsigned)n, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && errno == EAGAIN) return 1;
		if (r < 0 && errno == EPIPE) return 0; /* peer went away; its EOF is next */
		if (r < 0) die(1, "socket write: %s", strerror(errno));
		*torn_left = 0;
		for (int i = 0; i < r; i++) {
			*out_off += msgs[i].msg_len;
			if (msgs[i].msg_len < iov[i].iov_len) {
				/* Cannot happen while the charges hold; if it did, later frames overtook this tail. */
				if (i + 1 < r) die(1, "socket write: frame %d of %d cut short, stream torn", i + 1, r);
				*torn_left = iov[i].iov_len - msgs[i].msg_len;
				return 1;
			}
		}
		if (r < n) return 1; /* the socket is full */
	}
	*out_off = *out_len = 0;
	return 1;
}

/*
 * The loop. Every wakeup drains what is ready on both sides: socket frames go to the TAP, TAP
 * frames are batched into `out` and written at once (without waiting for POLLOUT first: the
 * socket is usually writable, and asking poll() would cost a second wakeup per batch).
 */
static int relay(int tap, int sock, enum framing f) {
	static uint8_t in[IN_BUF], out[OUT_BUF];
	size_t in_len = 0, out_len = 0, out_off = 0, torn_left = 0;
	int sndbuf_eff = 0;
	socklen_t sl = sizeof sndbuf_eff;
	if (getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf_eff, &sl) < 0) die(1, "SO_SNDBUF: %s", strerror(errno));
	unsigned long tap_drops = 0;

	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = tap, .events = 0}};
		if (out_len > out_off) p[0].events |= POLLOUT;
		/* Read the TAP only while a largest frame still fits (after compaction). */
		if (OUT_BUF - (out_len - out_off) >= header_len(f) + MAX_FRAME) p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) continue;
			die(1, "poll: %s", strerror(errno));
		}

		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			if (!sock_to_tap(sock, tap, f, in, &in_len, &tap_drops)) return 0;

		if (p[1].revents & POLLIN) tap_to_out(tap, f, out, &out_off, &out_len, &tap_drops);
		else if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) die(1, "TAP device went away");

		if (out_len > out_off && !flush_out(sock, f, sndbuf_eff, out, &out_off, &out_len, &torn_left)) return 0;
	}
}

int main(int argc, char **argv) {
	const char *tap_name = NULL, *path = NULL, *uuid = NULL, *preferred_ip = NULL, *mac_arg = NULL;
	enum framing f = QEMU;
	int mtu = 0, have_mac = 0, sndbuf = 0;
	struct in_addr pref;
	long vsock_port = -1;
	uint8_t mac[6];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
		if (!v) die(2, "%s needs a value", a);
		i++;
		if (!strcmp(a, "--tap")) tap_name = v;
		else if (!strcmp(a, "--connect")) path = v;
		else if (!strcmp(a, "--uuid")) uuid = v;
		else if (!strcmp(a, "--preferred-ip")) preferred_ip = v;
		else if (!strcmp(a, "--mac")) mac_arg = v;
		else if (!strcmp(a, "--mtu")) mtu = atoi(v);
		else if (!strcmp(a, "--hybrid-vsock-port")) vsock_port = strtol(v, NULL, 10);
		else if (!strcmp(a, "--sndbuf")) sndbuf = atoi(v);
		else if (!strcmp(a, "--framing")) {
			if (!strcmp(v, "qemu")) f = QEMU;
			else if (!strcmp(v, "stdio")) f = STDIO;
			else if (!strcmp(v, "vmnet")) f = VMNET;
			else die(2, "--framing must be qemu, vmnet or stdio, not '%s'", v);
		} else die(2, "unknown option %s (try --help)", a);
	}
	if (!tap_name || !path) usage();
	if (strlen(tap_name) >= IFNAMSIZ) die(2, "--tap: interface names have at most %d characters", IFNAMSIZ - 1);
	if (mac_arg && parse_mac(mac_arg, mac) < 0) die(2, "--mac: want xx:xx:xx:xx:xx:xx, got '%s'", mac_arg);
	have_mac = mac_arg != NULL;
	if (preferred_ip && inet_pton(AF_INET, preferred_ip, &pref) != 1)
		die(2, "--preferred-ip: not an IPv4 address: '%s'", preferred_ip);
	if (mtu && (mtu < 68 || mtu > 65521)) die(2, "--mtu: %d is outside 68..65521 (the TAP limit)", mtu);
	if (vsock_port == 0 || vsock_port > 0xffffffffL) die(2, "--hybrid-vsock-port: want 1..4294967295");
	if (uuid && strlen(uuid) != 36) die(2, "--uuid: want the 36-character 8-4-4-4-12 form, got '%s'", uuid);
	if (f == VMNET && (mac_arg || mtu)) die(2, "--mac and --mtu do not apply to vmnet: the server's Vif response sets them");
	if (f != VMNET && (uuid || preferred_ip)) die(2, "--uuid and --preferred-ip only apply to --framing vmnet");

	/* A peer that disappears makes write() fail with EPIPE instead of killing us. */
	signal(SIGPIPE, SIG_IGN);

	int tap = open_tap(tap_name);
	int sock = connect_unix(path);
	if (vsock_port > 0) hybrid_vsock_connect(sock, (unsigned)vsock_port);
	if (f == VMNET) {
		vmnet_handshake(sock, uuid, preferred_ip ? &pref : NULL, mac, &mtu);
		have_mac = 1;
	}
	if (have_mac) set_mac(tap_name, mac);
	if (mtu) set_mtu(tap_name, mtu);
	set_up(tap_name);

	struct timeval none = {0};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	if (sndbuf > 0 && setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
		die(1, "SO_SNDBUF %d: %s", sndbuf, strerror(errno));
	if (sndbuf <= 0) {
		/* Best effort (capped by net.core.wmem_max): fewer wakeups per MiB at MTU 65520. */
		int big = DEFAULT_SOCK_BUF;
		setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	}
	if (fcntl(sock, F_SETFL, O_NONBLOCK) < 0) die(1, "fcntl O_NONBLOCK: %s", strerror(errno));
	if (fcntl(tap, F_SETFL, O_NONBLOCK) < 0) die(1, "fcntl O_NONBLOCK on the TAP: %s", strerror(errno));
	printf("ready\n");
	fflush(stdout);
	return relay(tap, sock, f);
}
