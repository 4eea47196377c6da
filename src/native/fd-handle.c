/*
 * FdHandle: one non-blocking descriptor (stream socket, datagram socket or TAP device)
 * driven by a uv_poll_t on Node's own event loop.
 *
 * JavaScript owns the I/O policy (see fd-stream.ts, tap-device.ts, ping-socket.ts); this file
 * only reports readiness and performs single non-blocking syscalls, returning byte counts or
 * negative libuv error codes (-EAGAIN when the call would block). Readiness is level
 * triggered: a reader that stops reading before EAGAIN is simply called again.
 *
 * Lifetime: while any readiness interest is active the JS object is held by a strong
 * reference (like an active libuv handle keeps its JS wrapper alive); the C struct is freed
 * only once the JS object is finalized AND uv_close has completed.
 */
#include "fd-handle.h"

#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

static void free_ref(napi_env env, napi_ref* r) {
  if (*r != NULL) {
    napi_delete_reference(env, *r);
    *r = NULL;
  }
}

static void on_poll_closed(uv_handle_t* p) {
  FdHandle* h = (FdHandle*)p->data;
  h->poll_closed = 1;
  if (h->finalized) free(h);
}

static void on_poll(uv_poll_t* p, int status, int events);

/* Makes the polled mask match the current interests and pins/unpins the JS object. */
static int update_poll(FdHandle* h) {
  if (h->closed) return UV_EBADF;
  if (h->poll_status < 0) return h->poll_status;
  int want = (h->reading ? UV_READABLE : 0) | (h->write_cb != NULL ? UV_WRITABLE : 0);
  if (want != h->mask) {
    int r = want == 0 ? uv_poll_stop(&h->poll) : uv_poll_start(&h->poll, want, on_poll);
    if (r < 0) return r;
    h->mask = want;
  }
  if (want != 0 && !h->self_strong) {
    napi_reference_ref(h->env, h->self, NULL);
    h->self_strong = 1;
  } else if (want == 0 && h->self_strong) {
    napi_reference_unref(h->env, h->self, NULL);
    h->self_strong = 0;
  }
  return 0;
}

/* Releases the OS resources; safe from close() and from the finalizer. */
static int release(FdHandle* h) {
  if (h->closed) return 0;
  h->closed = 1;
  h->reading = 0;
  if (!h->poll_closed) {
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t*)&h->poll, on_poll_closed);
  }
  free_ref(h->env, &h->read_cb);
  free_ref(h->env, &h->write_cb);
  if (h->self_strong && !h->finalized) napi_reference_unref(h->env, h->self, NULL);
  h->self_strong = 0;
  int r = 0;
#ifdef _WIN32
  if (closesocket(h->fd) != 0) r = vk_last_error();
#else
  if (close(h->fd) != 0 && errno != EINTR) r = -errno;
#endif
  h->fd = VK_BAD_FD;
  if (h->ctx != NULL) {
    napi_async_destroy(h->env, h->ctx);
    h->ctx = NULL;
  }
  return r;
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  FdHandle* h = (FdHandle*)data;
  h->finalized = 1;
  release(h);
  napi_delete_reference(env, h->self);
  h->self = NULL;
  if (h->poll_closed) free(h);
}

/* Calls fn(status) with the handle as `this`; an exception becomes an uncaught exception. */
static void call_js(FdHandle* h, napi_value fn, int status) {
  napi_env env = h->env;
  napi_value recv = NULL, arg, result;
  if (h->self != NULL) napi_get_reference_value(env, h->self, &recv);
  if (recv == NULL) napi_get_undefined(env, &recv);
  arg = vk_int(env, status);
  napi_status s = napi_make_callback(env, h->ctx, recv, fn, 1, &arg, &result);
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static void on_poll(uv_poll_t* p, int status, int events) {
  FdHandle* h = (FdHandle*)p->data;
  if (h->closed) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value self = NULL;
  napi_get_reference_value(env, h->self, &self); /* keeps the object alive for this call */
  int writable = status < 0 || (events & UV_WRITABLE);
  int readable = status < 0 || (events & UV_READABLE);
  if (writable && h->write_cb != NULL) {
    /* One-shot: drop the interest before calling, so the callback may re-arm it. */
    napi_value fn;
    napi_get_reference_value(env, h->write_cb, &fn);
    free_ref(env, &h->write_cb);
    update_poll(h);
    call_js(h, fn, status < 0 ? status : 0);
  }
  if (!h->closed && readable && h->reading && h->read_cb != NULL) {
    napi_value fn;
    napi_get_reference_value(env, h->read_cb, &fn);
    if (status < 0) {
      /* A poll error is reported once; polling stops so it cannot spin. */
      h->reading = 0;
      update_poll(h);
    }
    call_js(h, fn, status < 0 ? status : 0);
  }
  napi_close_handle_scope(env, scope);
}

/* ---- JS methods ---------------------------------------------------------------------- */

FdHandle* vk_this_handle(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    vk_throw_type(env, "FdHandle method called on a foreign object");
    return NULL;
  }
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return (FdHandle*)data;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  vk_fd_t fd;
  if (argc < 1 || vk_arg_fd(env, argv[0], &fd) != 0) return vk_throw_type(env, "FdHandle(fd): fd must be a non-negative number");
  FdHandle* h = (FdHandle*)calloc(1, sizeof(FdHandle));
  if (h == NULL) return vk_throw_type(env, "FdHandle: out of memory");
  h->env = env;
  h->fd = fd;
  h->poll.data = h;
  uv_loop_t* loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int r = vk_set_nonblocking(fd, 1);
#ifdef _WIN32
  if (r == 0) r = uv_poll_init_socket(loop, &h->poll, fd);
#else
  if (r == 0) r = uv_poll_init(loop, &h->poll, fd);
#endif
  h->poll_status = r;
  h->poll_closed = r < 0;
  if (napi_wrap(env, self, h, finalize, NULL, &h->self) != napi_ok) {
    if (!h->poll_closed) {
      /* Not wrapped: nobody else will free it, so let the close callback do so. */
      h->finalized = 1;
      uv_close((uv_handle_t*)&h->poll, on_poll_closed);
    } else {
      free(h);
    }
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "vnetkit.FdHandle", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &h->ctx);
  return self;
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  return h->closed ? vk_int(env, -1) : vk_fd_value(env, h->fd);
}

static napi_value js_poll_status(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  return vk_int(env, h->poll_status);
}

static int set_cb(napi_env env, napi_value fn, napi_ref* slot) {
  napi_valuetype t;
  if (napi_typeof(env, fn, &t) != napi_ok || t != napi_function) return -1;
  free_ref(env, slot);
  return napi_create_reference(env, fn, 1, slot) == napi_ok ? 0 : -1;
}

static napi_value js_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  FdHandle* h = vk_this_handle(env, info, 1, argv);
  if (h == NULL) return NULL;
  if (h->closed) return vk_int(env, UV_EBADF);
  if (set_cb(env, argv[0], &h->read_cb) != 0) return vk_throw_type(env, "startReading(cb): cb must be a function");
  h->reading = 1;
  int r = update_poll(h);
  if (r < 0) h->reading = 0;
  return vk_int(env, r);
}

static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  if (h->closed) return vk_int(env, 0);
  h->reading = 0;
  return vk_int(env, update_poll(h));
}

static napi_value js_await_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  FdHandle* h = vk_this_handle(env, info, 1, argv);
  if (h == NULL) return NULL;
  if (h->closed) return vk_int(env, UV_EBADF);
  if (set_cb(env, argv[0], &h->write_cb) != 0) return vk_throw_type(env, "awaitWritable(cb): cb must be a function");
  int r = update_poll(h);
  if (r < 0) free_ref(env, &h->write_cb);
  return vk_int(env, r);
}

/* Validates (buf, off, len) into a pointer range; returns 0 or throws. */
int vk_get_range(napi_env env, napi_value* argv, uint8_t** p, size_t* n) {
  uint8_t* data;
  size_t blen;
  int64_t off, len;
  if (vk_arg_bytes(env, argv[0], &data, &blen) != 0) return -1;
  if (vk_arg_int64(env, argv[1], &off) != 0 || vk_arg_int64(env, argv[2], &len) != 0) return -1;
  if (off < 0 || len < 0 || (uint64_t)off + (uint64_t)len > blen) return -1;
  *p = data + off;
  *n = (size_t)len;
  return 0;
}

static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  FdHandle* h = vk_this_handle(env, info, 1, argv);
  if (h == NULL) return NULL;
  uint8_t* p;
  size_t n;
  if (vk_arg_bytes(env, argv[0], &p, &n) != 0 || n == 0) return vk_throw_type(env, "read(buf): buf must be a non-empty Uint8Array");
  if (h->closed) return vk_int(env, UV_EBADF);
#ifdef _WIN32
  int got = recv(h->fd, (char*)p, n > 0x7fffffff ? 0x7fffffff : (int)n, 0);
  return vk_int(env, got < 0 ? vk_last_error() : got);
#else
  ssize_t got;
  do got = read(h->fd, p, n); while (got < 0 && errno == EINTR);
  return vk_int(env, got < 0 ? -errno : (int64_t)got);
#endif
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  FdHandle* h = vk_this_handle(env, info, 3, argv);
  if (h == NULL) return NULL;
  uint8_t* p;
  size_t n;
  if (vk_get_range(env, argv, &p, &n) != 0) return vk_throw_type(env, "write(buf, off, len): bad buffer range");
  if (h->closed) return vk_int(env, UV_EBADF);
#ifdef _WIN32
  int put = send(h->fd, (const char*)p, n > 0x7fffffff ? 0x7fffffff : (int)n, 0);
  return vk_int(env, put < 0 ? vk_last_error() : put);
#else
  /* Node ignores SIGPIPE process-wide, so a closed peer comes back as -EPIPE. */
  ssize_t put;
  do put = write(h->fd, p, n); while (put < 0 && errno == EINTR);
  return vk_int(env, put < 0 ? -errno : (int64_t)put);
#endif
}

static napi_value js_shutdown_write(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  if (h->closed) return vk_int(env, UV_EBADF);
#ifdef _WIN32
  return vk_int(env, shutdown(h->fd, SD_SEND) != 0 ? vk_last_error() : 0);
#else
  return vk_int(env, shutdown(h->fd, SHUT_WR) != 0 ? -errno : 0);
#endif
}

static napi_value js_socket_error(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  if (h->closed) return vk_int(env, UV_EBADF);
  int err = 0;
  socklen_t sl = sizeof err;
  if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, (char*)&err, &sl) != 0) return vk_int(env, vk_last_error());
#ifdef _WIN32
  return vk_int(env, err == 0 ? 0 : uv_translate_sys_error(err));
#else
  return vk_int(env, -err);
#endif
}

static napi_value js_ref(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h != NULL && !h->poll_closed && !h->closed) uv_ref((uv_handle_t*)&h->poll);
  return NULL;
}

static napi_value js_unref(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h != NULL && !h->poll_closed && !h->closed) uv_unref((uv_handle_t*)&h->poll);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  FdHandle* h = vk_this_handle(env, info, 0, NULL);
  if (h == NULL) return NULL;
  return vk_int(env, release(h));
}

napi_status vk_register_fd_handle(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"fd", NULL, js_fd, NULL, NULL, NULL, napi_default, NULL},
      {"pollStatus", NULL, js_poll_status, NULL, NULL, NULL, napi_default, NULL},
      {"startReading", NULL, js_start_reading, NULL, NULL, NULL, napi_default, NULL},
      {"stopReading", NULL, js_stop_reading, NULL, NULL, NULL, napi_default, NULL},
      {"awaitWritable", NULL, js_await_writable, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, vk_js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"recvFrom", NULL, vk_js_recv_from, NULL, NULL, NULL, napi_default, NULL},
      {"sourceAddress", NULL, vk_js_source_address, NULL, NULL, NULL, napi_default, NULL},
      {"shutdownWrite", NULL, js_shutdown_write, NULL, NULL, NULL, napi_default, NULL},
      {"socketError", NULL, js_socket_error, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, js_unref, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  napi_status s = napi_define_class(env, "FdHandle", NAPI_AUTO_LENGTH, js_new, NULL,
                                    sizeof methods / sizeof methods[0], methods, &cls);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, "FdHandle", cls);
}
