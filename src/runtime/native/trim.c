/*
 * Returning freed native memory to the kernel. Why by hand: Node has no binding for glibc's malloc_trim. dgf's
 * Buffers (socket reads, audit batches, upstream replies) are malloc'd by the main thread in glibc's main arena;
 * under a steady load of many connections the arena's free chunks end up spread between live ones, and glibc only
 * gives back the free space at the arena's top, so RSS climbs and stays at the peak of past bursts (the soak:
 * the [heap] segment 30 -> 123 MiB in 10 minutes while the live set stayed flat). malloc_trim(0) releases the
 * free pages inside every arena too (madvise MADV_DONTNEED). Elsewhere than glibc this exports a no-op.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* trim(): 1 when memory was given back to the kernel, 0 when none was (or not glibc). */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_create_int32(env, released, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  return exports;
}
