/*
 * Descriptor factories for Linux: AF_VSOCK sockets, TAP devices, ICMP "ping" sockets and
 * socket pairs. Every descriptor is created non-blocking and close-on-exec, ready to be
 * wrapped in an FdHandle. Failures return a negative errno, never throw (bad argument
 * types excepted).
 *
 * On non-Linux POSIX systems only socketPair/setNonBlocking/closeFd/getsockname work; the
 * Linux-only factories return -ENOSYS. On Windows the whole file is a registration stub
 * (hyperv-win.c provides the Windows sockets).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "native-common.h"

#ifndef _WIN32
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/vm_sockets.h>
#endif

/* The flags every new descriptor gets: the fd belongs to this process's event loop only. */
#ifdef __linux__
#define VK_SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#else
#define VK_SOCK_FLAGS 0
#endif

static int prepare(int fd) {
  if (fd < 0) return -errno;
#ifndef __linux__
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  int r = vk_set_nonblocking(fd, 1);
  if (r < 0) {
    close(fd);
    return r;
  }
#endif
  return fd;
}

#ifdef __linux__
static napi_value vsock_addr_object(napi_env env, int fd, const struct sockaddr_vm* sa) {
  napi_value o;
  napi_create_object(env, &o);
  if (fd >= 0) vk_set_named(env, o, "fd", vk_int(env, fd));
  vk_set_named(env, o, "cid", vk_int(env, sa->svm_cid));
  vk_set_named(env, o, "port", vk_int(env, sa->svm_port));
  return o;
}

static void fill_vm(struct sockaddr_vm* sa, uint32_t cid, uint32_t port) {
  memset(sa, 0, sizeof *sa);
  sa->svm_family = AF_VSOCK;
  sa->svm_cid = cid;
  sa->svm_port = port;
}
#endif

/* vsockListen(cid, port, backlog) → fd | -errno */
static napi_value js_vsock_listen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t cid, port;
  int64_t backlog;
  if (argc < 3 || vk_arg_uint32(env, argv[0], &cid) || vk_arg_uint32(env, argv[1], &port) || vk_arg_int64(env, argv[2], &backlog))
    return vk_throw_type(env, "vsockListen(cid, port, backlog): numbers expected");
#ifdef __linux__
  int fd = prepare(socket(AF_VSOCK, SOCK_STREAM | VK_SOCK_FLAGS, 0));
  if (fd < 0) return vk_int(env, fd);
  struct sockaddr_vm sa;
  fill_vm(&sa, cid, port);
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0 || listen(fd, (int)backlog) != 0) {
    int e = -errno;
    close(fd);
    return vk_int(env, e);
  }
  return vk_int(env, fd);
#else
  return vk_int(env, -ENOSYS);
#endif
}

/* vsockAccept(fd) → { fd, cid, port } | -errno (-EAGAIN when nothing is pending) */
static napi_value js_vsock_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  vk_fd_t lfd;
  if (argc < 1 || vk_arg_fd(env, argv[0], &lfd)) return vk_throw_type(env, "vsockAccept(fd): fd expected");
#ifdef __linux__
  struct sockaddr_vm sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  int fd;
  do fd = accept4(lfd, (struct sockaddr*)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) return vk_int(env, -errno);
  return vsock_addr_object(env, fd, &sa);
#else
  return vk_int(env, -ENOSYS);
#endif
}

/* vsockConnect(cid, port) → { fd, pending } | -errno. When pending, wait for writable and
 * read FdHandle.socketError() for the outcome (non-blocking connect). */
static napi_value js_vsock_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t cid, port;
  if (argc < 2 || vk_arg_uint32(env, argv[0], &cid) || vk_arg_uint32(env, argv[1], &port))
    return vk_throw_type(env, "vsockConnect(cid, port): numbers expected");
#ifdef __linux__
  int fd = prepare(socket(AF_VSOCK, SOCK_STREAM | VK_SOCK_FLAGS, 0));
  if (fd < 0) return vk_int(env, fd);
  struct sockaddr_vm sa;
  fill_vm(&sa, cid, port);
  int pending = 0;
  if (connect(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
    if (errno == EINPROGRESS || errno == EINTR) {
      pending = 1;
    } else {
      int e = -errno;
      close(fd);
      return vk_int(env, e);
    }
  }
  napi_value o, b;
  napi_create_object(env, &o);
  vk_set_named(env, o, "fd", vk_int(env, fd));
  napi_get_boolean(env, pending, &b);
  vk_set_named(env, o, "pending", b);
  return o;
#else
  return vk_int(env, -ENOSYS);
#endif
}

/* vsockLocalCid() → this machine's CID | -errno (IOCTL_VM_SOCKETS_GET_LOCAL_CID). */
static napi_value js_vsock_local_cid(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __linux__
  int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return vk_int(env, -errno);
  unsigned int cid = 0;
  int r = ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
  int e = r < 0 ? -errno : 0;
  close(fd);
  return e < 0 ? vk_int(env, e) : vk_int(env, cid);
#else
  return vk_int(env, -ENOSYS);
#endif
}

/* getsockname(fd) → { family: 'vsock', cid, port } | { family: 'inet'|'inet6', address, port } | -errno */
static napi_value js_getsockname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  vk_fd_t fd;
  if (argc < 1 || vk_arg_fd(env, argv[0], &fd)) return vk_throw_type(env, "getsockname(fd): fd expected");
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr*)&ss, &sl) != 0) return vk_int(env, -errno);
  napi_value o, fam;
  char buf[64] = "";
  napi_create_object(env, &o);
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in* s = (struct sockaddr_in*)&ss;
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    napi_create_string_utf8(env, "inet", NAPI_AUTO_LENGTH, &fam);
    vk_set_named(env, o, "port", vk_int(env, ntohs(s->sin_port)));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6* s = (struct sockaddr_in6*)&ss;
    inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
    napi_create_string_utf8(env, "inet6", NAPI_AUTO_LENGTH, &fam);
    vk_set_named(env, o, "port", vk_int(env, ntohs(s->sin6_port)));
#ifdef __linux__
  } else if (ss.ss_family == AF_VSOCK) {
    struct sockaddr_vm* s = (struct sockaddr_vm*)&ss;
    napi_create_string_utf8(env, "vsock", NAPI_AUTO_LENGTH, &fam);
    vk_set_named(env, o, "cid", vk_int(env, s->svm_cid));
    vk_set_named(env, o, "port", vk_int(env, s->svm_port));
#endif
  } else {
    napi_create_string_utf8(env, "other", NAPI_AUTO_LENGTH, &fam);
  }
  vk_set_named(env, o, "family", fam);
  if (buf[0] != 0) {
    napi_value a;
    napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &a);
    vk_set_named(env, o, "address", a);
  }
  return o;
}

/* openTap(name, multiQueue) → { fd, name } | -errno. IFF_NO_PI: each read()/write() is
 * exactly one Ethernet frame with no packet-information prefix. An empty name lets the
 * kernel choose (tap%d). */
static napi_value js_open_tap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[64];
  size_t nlen;
  bool mq = false;
  if (argc < 2 || vk_arg_string(env, argv[0], name, sizeof name, &nlen) || napi_get_value_bool(env, argv[1], &mq) != napi_ok)
    return vk_throw_type(env, "openTap(name, multiQueue): string and boolean expected");
#ifdef __linux__
  if (nlen >= IFNAMSIZ) return vk_int(env, -ENAMETOOLONG);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return vk_int(env, -errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (mq ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, nlen);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = -errno;
    close(fd);
    return vk_int(env, e);
  }
  napi_value o, n;
  napi_create_object(env, &o);
  vk_set_named(env, o, "fd", vk_int(env, fd));
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &n);
  vk_set_named(env, o, "name", n);
  return o;
#else
  (void)mq;
  return vk_int(env, -ENOSYS);
#endif
}

/* pingSocket(family) → fd | -errno. socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP): unprivileged
 * ICMP echo. The kernel allows it only for groups in net.ipv4.ping_group_range (EACCES
 * otherwise); it owns the ICMP identifier (the socket's "port") and strips the IP header. */
static napi_value js_ping_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t family = 4;
  if (argc >= 1 && vk_arg_int64(env, argv[0], &family)) return vk_throw_type(env, "pingSocket(family): 4 or 6 expected");
  if (family != 4 && family != 6) return vk_int(env, -EAFNOSUPPORT);
#ifdef __linux__
  int fd = family == 4 ? socket(AF_INET, SOCK_DGRAM | VK_SOCK_FLAGS, IPPROTO_ICMP)
                       : socket(AF_INET6, SOCK_DGRAM | VK_SOCK_FLAGS, IPPROTO_ICMPV6);
  return vk_int(env, prepare(fd));
#else
  return vk_int(env, -ENOSYS);
#endif
}

/* socketPair() → [fd, fd] | -errno: a connected AF_UNIX stream pair (tests, in-process pipes). */
static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | VK_SOCK_FLAGS, 0, sv) != 0) return vk_int(env, -errno);
  int a = prepare(sv[0]);
  int b = prepare(sv[1]);
  if (a < 0 || b < 0) {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
    return vk_int(env, a < 0 ? a : b);
  }
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, vk_int(env, a));
  napi_set_element(env, arr, 1, vk_int(env, b));
  return arr;
}

static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  vk_fd_t fd;
  bool on = true;
  if (argc < 1 || vk_arg_fd(env, argv[0], &fd)) return vk_throw_type(env, "setNonBlocking(fd, on): fd expected");
  if (argc >= 2) napi_get_value_bool(env, argv[1], &on);
  return vk_int(env, vk_set_nonblocking(fd, on));
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  vk_fd_t fd;
  if (argc < 1 || vk_arg_fd(env, argv[0], &fd)) return vk_throw_type(env, "closeFd(fd): fd expected");
  return vk_int(env, close(fd) != 0 ? -errno : 0);
}

napi_status vk_register_posix(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"vsockListen", NULL, js_vsock_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vsockAccept", NULL, js_vsock_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vsockConnect", NULL, js_vsock_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vsockLocalCid", NULL, js_vsock_local_cid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockname", NULL, js_getsockname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openTap", NULL, js_open_tap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pingSocket", NULL, js_ping_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketPair", NULL, js_socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNonBlocking", NULL, js_set_nonblocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

#else /* _WIN32 */

napi_status vk_register_posix(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return napi_ok;
}

#endif
