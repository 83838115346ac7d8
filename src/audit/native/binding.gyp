{
  "targets": [
    {
      "target_name": "seal",
      "sources": ["seal.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
