# vnetkit's one optional native addon (plain N-API C). Built by src/native/build.mjs;
# output: src/native/build/Release/vnetkit_native.node
{
  "targets": [
    {
      "target_name": "vnetkit_native",
      "sources": ["addon.c", "fd-handle.c", "fd-handle-dgram.c", "posix-sockets.c", "hyperv-win.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='win'", {"libraries": ["-lws2_32"]}],
        ["OS=='mac'", {"xcode_settings": {"OTHER_CFLAGS": ["-std=gnu11", "-Wall"]}}]
      ]
    }
  ]
}
