/*
 * FdHandle datagram methods: sendTo / recvFrom / sourceAddress, used by ping sockets
 * (ping-socket.ts). Same conventions as fd-handle.c: one non-blocking syscall per call,
 * negative libuv codes on failure.
 */
#include "fd-handle.h"

#include <string.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

napi_value vk_js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  FdHandle* h = vk_this_handle(env, info, 5, argv);
  if (h == NULL) return NULL;
  uint8_t* p;
  size_t n;
  char ip[64];
  uint32_t port;
  if (vk_get_range(env, argv, &p, &n) != 0) return vk_throw_type(env, "sendTo(buf, off, len, ip, port): bad buffer range");
  if (vk_arg_string(env, argv[3], ip, sizeof ip, NULL) != 0 || vk_arg_uint32(env, argv[4], &port) != 0 || port > 65535)
    return vk_throw_type(env, "sendTo(buf, off, len, ip, port): bad address");
  if (h->closed) return vk_int(env, UV_EBADF);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in* s4 = (struct sockaddr_in*)&ss;
  struct sockaddr_in6* s6 = (struct sockaddr_in6*)&ss;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sl = sizeof *s4;
  } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sl = sizeof *s6;
  } else {
    return vk_int(env, UV_EINVAL);
  }
#ifdef _WIN32
  int put = sendto(h->fd, (const char*)p, (int)n, 0, (struct sockaddr*)&ss, sl);
  return vk_int(env, put < 0 ? vk_last_error() : put);
#else
  ssize_t put;
  do put = sendto(h->fd, p, n, 0, (struct sockaddr*)&ss, sl); while (put < 0 && errno == EINTR);
  return vk_int(env, put < 0 ? -errno : (int64_t)put);
#endif
}

napi_value vk_js_recv_from(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  FdHandle* h = vk_this_handle(env, info, 1, argv);
  if (h == NULL) return NULL;
  uint8_t* p;
  size_t n;
  if (vk_arg_bytes(env, argv[0], &p, &n) != 0 || n == 0) return vk_throw_type(env, "recvFrom(buf): buf must be a non-empty Uint8Array");
  if (h->closed) return vk_int(env, UV_EBADF);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  memset(&ss, 0, sizeof ss);
#ifdef _WIN32
  int got = recvfrom(h->fd, (char*)p, (int)n, 0, (struct sockaddr*)&ss, &sl);
  if (got < 0) return vk_int(env, vk_last_error());
#else
  ssize_t got;
  do got = recvfrom(h->fd, p, n, 0, (struct sockaddr*)&ss, &sl); while (got < 0 && errno == EINTR);
  if (got < 0) return vk_int(env, -errno);
#endif
  h->src[0] = 0;
  if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in*)&ss)->sin_addr, h->src, sizeof h->src);
  else if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6*)&ss)->sin6_addr, h->src, sizeof h->src);
  return vk_int(env, (int64_t)got);
}

napi_value vk_js_source_address(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  napi_value s;
  napi_create_string_utf8(env, h->src, NAPI_AUTO_LENGTH, &s);
  return s;
}
