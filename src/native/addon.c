/*
 * vnetkit native addon: module entry point and small helpers shared by the other files.
 *
 * Why an addon at all: Node's net.Socket({ fd }) cannot wrap AF_VSOCK or TAP descriptors
 * (libuv classifies them as unknown handles), so these descriptors are driven with uv_poll_t
 * and plain non-blocking read/write in fd-handle.c.
 */
#include "native-common.h"

#include <string.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#endif

int vk_last_error(void) {
#ifdef _WIN32
  return uv_translate_sys_error(WSAGetLastError());
#else
  return -errno;
#endif
}

void vk_close_fd(vk_fd_t fd) {
  if (fd == VK_BAD_FD) return;
#ifdef _WIN32
  closesocket(fd);
#else
  close(fd);
#endif
}

int vk_set_nonblocking(vk_fd_t fd, int on) {
#ifdef _WIN32
  u_long mode = on ? 1 : 0;
  if (ioctlsocket(fd, FIONBIO, &mode) != 0) return vk_last_error();
  return 0;
#else
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) return -errno;
  return 0;
#endif
}

napi_value vk_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

napi_value vk_throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

int vk_arg_int64(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
}

int vk_arg_uint32(napi_env env, napi_value v, uint32_t* out) {
  int64_t x;
  if (vk_arg_int64(env, v, &x) != 0) return -1;
  /* -1 is accepted as VMADDR_CID_ANY / VMADDR_PORT_ANY (0xFFFFFFFF). */
  if (x < -1 || x > 0xFFFFFFFFLL) return -1;
  *out = (uint32_t)x;
  return 0;
}

int vk_arg_bytes(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  size_t count;
  void* p;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &count, &p, &ab, &offset) != napi_ok) return -1;
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *data = (uint8_t*)p; /* already points at the view's first element */
  *len = count * elem;
  return 0;
}

int vk_arg_string(napi_env env, napi_value v, char* buf, size_t cap, size_t* len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  size_t need;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &need) != napi_ok) return -1;
  if (need + 1 > cap) return -1;
  if (napi_get_value_string_utf8(env, v, buf, cap, &need) != napi_ok) return -1;
  if (strlen(buf) != need) return -1; /* embedded NUL: refuse rather than truncate */
  if (len != NULL) *len = need;
  return 0;
}

void vk_set_named(napi_env env, napi_value obj, const char* name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
}

int vk_arg_fd(napi_env env, napi_value v, vk_fd_t* out) {
  int64_t x;
  if (vk_arg_int64(env, v, &x) != 0 || x < 0) return -1;
  *out = (vk_fd_t)x;
  return 0;
}

napi_value vk_fd_value(napi_env env, vk_fd_t fd) { return vk_int(env, (int64_t)fd); }

static napi_value init(napi_env env, napi_value exports) {
  if (vk_register_fd_handle(env, exports) != napi_ok) return NULL;
  if (vk_register_posix(env, exports) != napi_ok) return NULL;
  if (vk_register_hyperv(env, exports) != napi_ok) return NULL;
  napi_value platform;
#if defined(_WIN32)
  napi_create_string_utf8(env, "win32", NAPI_AUTO_LENGTH, &platform);
#elif defined(__linux__)
  napi_create_string_utf8(env, "linux", NAPI_AUTO_LENGTH, &platform);
#else
  napi_create_string_utf8(env, "posix", NAPI_AUTO_LENGTH, &platform);
#endif
  vk_set_named(env, exports, "platform", platform);
  vk_set_named(env, exports, "abiVersion", vk_int(env, 1));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
