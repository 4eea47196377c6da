/*
 * FdHandle internals shared by fd-handle.c (lifetime, polling, stream I/O) and
 * fd-handle-dgram.c (datagram I/O for ping sockets). See fd-handle.c for the design.
 */
#ifndef VNETKIT_FD_HANDLE_H
#define VNETKIT_FD_HANDLE_H

#include "native-common.h"

typedef struct {
  napi_env env;
  vk_fd_t fd;
  uv_poll_t poll;
  int poll_status;  /* 0 when the poll handle was initialised, else why not */
  int poll_closed;  /* uv_close finished, or the poll was never initialised */
  int mask;         /* UV_READABLE/UV_WRITABLE currently polled */
  int reading;
  int self_strong;
  int closed;
  int finalized;
  napi_ref self;
  napi_ref read_cb;
  napi_ref write_cb;
  napi_async_context ctx;
  char src[64]; /* source address of the last successful recvFrom */
} FdHandle;

/* The FdHandle behind `this`; fills argv (missing ones = undefined). NULL after throwing. */
FdHandle* vk_this_handle(napi_env env, napi_callback_info info, size_t want, napi_value* argv);
/* Validates argv[0..2] = (buf, off, len) into a pointer range; 0 on success, -1 otherwise. */
int vk_get_range(napi_env env, napi_value* argv, uint8_t** p, size_t* n);

/* Datagram methods (fd-handle-dgram.c). */
napi_value vk_js_send_to(napi_env env, napi_callback_info info);
napi_value vk_js_recv_from(napi_env env, napi_callback_info info);
napi_value vk_js_source_address(napi_env env, napi_callback_info info);

#endif
