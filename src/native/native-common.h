/*
 * vnetkit native addon: shared declarations.
 *
 * Error convention (all files): a function that can fail returns a negative libuv error
 * code. On Linux/macOS that is exactly -errno; on Windows the WSA/Win32 code is mapped with
 * uv_translate_sys_error, so JavaScript can name every code with util.getSystemErrorName().
 */
#ifndef VNETKIT_NATIVE_COMMON_H
#define VNETKIT_NATIVE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <node_api.h>
#include <uv.h>

#ifdef _WIN32
#include <winsock2.h>
typedef SOCKET vk_fd_t;
#define VK_BAD_FD INVALID_SOCKET
#else
typedef int vk_fd_t;
#define VK_BAD_FD (-1)
#endif

/* Returns the current OS error (errno / WSAGetLastError) as a negative libuv code. */
int vk_last_error(void);

/* Closes a descriptor/socket, ignoring errors (used on failure paths). */
void vk_close_fd(vk_fd_t fd);

/* Switches O_NONBLOCK (FIONBIO on Windows). Returns 0 or a negative code. */
int vk_set_nonblocking(vk_fd_t fd, int on);

/* napi helpers: each returns NULL after throwing a JS TypeError when the argument is wrong. */
napi_value vk_int(napi_env env, int64_t v);
napi_value vk_throw_type(napi_env env, const char* msg);
int vk_arg_int64(napi_env env, napi_value v, int64_t* out);
int vk_arg_uint32(napi_env env, napi_value v, uint32_t* out);
/* Gets a pointer/length for a Buffer or any TypedArray (0 on success). */
int vk_arg_bytes(napi_env env, napi_value v, uint8_t** data, size_t* len);
/* Copies a JS string into buf (NUL-terminated); fails when it does not fit. */
int vk_arg_string(napi_env env, napi_value v, char* buf, size_t cap, size_t* len);
void vk_set_named(napi_env env, napi_value obj, const char* name, napi_value v);
/* Reads a JS number as a descriptor (a SOCKET handle value on Windows). */
int vk_arg_fd(napi_env env, napi_value v, vk_fd_t* out);
napi_value vk_fd_value(napi_env env, vk_fd_t fd);

/* Registers the FdHandle class on `exports` (fd-handle.c). */
napi_status vk_register_fd_handle(napi_env env, napi_value exports);
/* Registers the POSIX socket/TAP functions (posix-sockets.c); stubs elsewhere. */
napi_status vk_register_posix(napi_env env, napi_value exports);
/* Registers the AF_HYPERV functions (hyperv-win.c); absent except on Windows. */
napi_status vk_register_hyperv(napi_env env, napi_value exports);

#endif
