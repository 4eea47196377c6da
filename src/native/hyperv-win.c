/*
 * AF_HYPERV (Hyper-V sockets) for Windows hosts — protocols.md §2.1.
 *
 * UNTESTED: this file has never run. It was only compiled (not linked) with a MinGW
 * cross-compiler on Linux for syntax and type checks; it is correct by reading only.
 *
 * GUIDs arrive from JavaScript as 16 bytes already in Windows memory order (Data1 u32 LE,
 * Data2/Data3 u16 LE, Data4 raw; see adapters/hvsock/addressing.ts), so they are copied
 * into SOCKADDR_HV unchanged. Errors are negative libuv codes (uv_translate_sys_error).
 * Readiness goes through the same FdHandle (uv_poll_init_socket) as on Linux.
 */
#include "native-common.h"

#ifdef _WIN32
#include <string.h>
#include <ws2tcpip.h>
#include <hvsocket.h>

#ifndef AF_HYPERV
#define AF_HYPERV 34 /* Windows SDK ws2def.h */
#endif

static int get_guid(napi_env env, napi_value v, GUID* out) {
  uint8_t* p;
  size_t n;
  if (vk_arg_bytes(env, v, &p, &n) != 0 || n != 16) return -1;
  memcpy(out, p, 16);
  return 0;
}

static napi_value guid_buffer(napi_env env, const GUID* g) {
  napi_value b;
  void* data;
  napi_create_buffer_copy(env, 16, g, &data, &b);
  return b;
}

static SOCKET new_hv_socket(int* err) {
  SOCKET s = socket(AF_HYPERV, SOCK_STREAM, HV_PROTOCOL_RAW);
  if (s == INVALID_SOCKET) {
    *err = vk_last_error();
    return s;
  }
  SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  int r = vk_set_nonblocking(s, 1);
  if (r < 0) {
    *err = r;
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

static void fill_hv(SOCKADDR_HV* sa, const GUID* vm, const GUID* service) {
  memset(sa, 0, sizeof *sa);
  sa->Family = AF_HYPERV;
  sa->VmId = *vm;
  sa->ServiceId = *service;
}

/* hvsockListen(vmId16, serviceId16, backlog) → socket | code */
static napi_value js_hv_listen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  GUID vm, svc;
  int64_t backlog;
  if (argc < 3 || get_guid(env, argv[0], &vm) || get_guid(env, argv[1], &svc) || vk_arg_int64(env, argv[2], &backlog))
    return vk_throw_type(env, "hvsockListen(vmId, serviceId, backlog): two 16-byte GUIDs and a number expected");
  int err = 0;
  SOCKET s = new_hv_socket(&err);
  if (s == INVALID_SOCKET) return vk_int(env, err);
  SOCKADDR_HV sa;
  fill_hv(&sa, &vm, &svc);
  if (bind(s, (struct sockaddr*)&sa, sizeof sa) != 0 || listen(s, (int)backlog) != 0) {
    err = vk_last_error();
    closesocket(s);
    return vk_int(env, err);
  }
  return vk_fd_value(env, s);
}

/* hvsockAccept(socket) → { fd, vmId, serviceId } | code (UV_EAGAIN when nothing pending) */
static napi_value js_hv_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  vk_fd_t ls;
  if (argc < 1 || vk_arg_fd(env, argv[0], &ls)) return vk_throw_type(env, "hvsockAccept(fd): fd expected");
  SOCKADDR_HV sa;
  int sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  SOCKET s = accept(ls, (struct sockaddr*)&sa, &sl);
  if (s == INVALID_SOCKET) return vk_int(env, vk_last_error());
  int r = vk_set_nonblocking(s, 1);
  if (r < 0) {
    closesocket(s);
    return vk_int(env, r);
  }
  napi_value o;
  napi_create_object(env, &o);
  vk_set_named(env, o, "fd", vk_fd_value(env, s));
  vk_set_named(env, o, "vmId", guid_buffer(env, &sa.VmId));
  vk_set_named(env, o, "serviceId", guid_buffer(env, &sa.ServiceId));
  return o;
}

/* hvsockConnect(vmId16, serviceId16) → { fd, pending } | code */
static napi_value js_hv_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  GUID vm, svc;
  if (argc < 2 || get_guid(env, argv[0], &vm) || get_guid(env, argv[1], &svc))
    return vk_throw_type(env, "hvsockConnect(vmId, serviceId): two 16-byte GUIDs expected");
  int err = 0;
  SOCKET s = new_hv_socket(&err);
  if (s == INVALID_SOCKET) return vk_int(env, err);
  SOCKADDR_HV sa;
  fill_hv(&sa, &vm, &svc);
  int pending = 0;
  if (connect(s, (struct sockaddr*)&sa, sizeof sa) != 0) {
    int w = WSAGetLastError();
    if (w == WSAEWOULDBLOCK || w == WSAEINPROGRESS) {
      pending = 1;
    } else {
      closesocket(s);
      return vk_int(env, uv_translate_sys_error(w));
    }
  }
  napi_value o, b;
  napi_create_object(env, &o);
  vk_set_named(env, o, "fd", vk_fd_value(env, s));
  napi_get_boolean(env, pending, &b);
  vk_set_named(env, o, "pending", b);
  return o;
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
  return vk_int(env, closesocket(fd) != 0 ? vk_last_error() : 0);
}

napi_status vk_register_hyperv(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"hvsockListen", NULL, js_hv_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hvsockAccept", NULL, js_hv_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hvsockConnect", NULL, js_hv_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNonBlocking", NULL, js_set_nonblocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

#else

napi_status vk_register_hyperv(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return napi_ok;
}

#endif
