/*
 * Sealing a batch of audit records (the same lines as seal-batch.ts), in C. Why by hand: on this hot path the
 * HMAC's cost is Node's per-call overhead, not the hashing. From JS, each record needs two crypto.hash calls
 * (~300 ns of fixed cost each: argument checks, an EVP context, a result object) plus half a dozen Buffer calls
 * to assemble its line; at pipeline 1 every command is a record and that was ~15% of dgf's event loop. Here a
 * whole group-commit batch is one call, and each HMAC resumes from SHA-256 states that already absorbed the
 * key's ipad and opad blocks (RFC 2104's precomputation), so a record costs its hashing and a few memcpys.
 * SHA-256 is OpenSSL's (the copy linked into Node, SHA-NI where the CPU has it); nothing cryptographic is
 * written here. seal-batch.ts stays the reference and the fallback, and a unit test compares both.
 */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  SHA256_CTX inner; /* state after (key ^ ipad) */
  SHA256_CTX outer; /* state after (key ^ opad) */
} Sealer;

#define BLOCK 64
#define HEX 64
static const char HEXDIGITS[] = "0123456789abcdef";

/* A record's line adds this much to its body (as LINE_OVERHEAD in seal-batch.ts). */
#define LINE_OVERHEAD (13 + 16 + 9 + 64 + 10 + 64 + 3)

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_range_error(env, NULL, message);
  return NULL;
}

static void free_sealer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* The elements of a typed array of the `want` type (their count in `length`); 0 for anything else. */
static int get_typed(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, data, &buffer, &offset) != napi_ok) return 0;
  return type == want;
}

static int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  return get_typed(env, value, napi_uint8_array, (void **)data, length);
}

/* createSealer(key: Uint8Array): an opaque handle holding the key's padded SHA-256 states. */
static napi_value create_sealer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *key;
  size_t key_length;
  if (argc < 1 || !get_bytes(env, argv[0], &key, &key_length)) return throw_error(env, "createSealer(key): key must be a Uint8Array");
  uint8_t block[BLOCK] = {0};
  if (key_length > BLOCK) SHA256(key, key_length, block);
  else memcpy(block, key, key_length);
  Sealer *sealer = malloc(sizeof(Sealer));
  if (sealer == NULL) return throw_error(env, "createSealer: out of memory");
  uint8_t pad[BLOCK];
  for (int i = 0; i < BLOCK; i++) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&sealer->inner);
  SHA256_Update(&sealer->inner, pad, BLOCK);
  for (int i = 0; i < BLOCK; i++) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&sealer->outer);
  SHA256_Update(&sealer->outer, pad, BLOCK);
  napi_value handle;
  napi_create_external(env, sealer, free_sealer, NULL, &handle);
  return handle;
}

static size_t put(uint8_t *out, size_t pos, const char *s, size_t n) {
  memcpy(out + pos, s, n);
  return pos + n;
}

static size_t put_uint(uint8_t *out, size_t pos, uint64_t n) {
  char digits[20];
  int i = 0;
  do {
    digits[i++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (i > 0) out[pos++] = (uint8_t)digits[--i];
  return pos;
}

/*
 * seal(sealer, prev: Uint8Array(64 hex), firstSeq, data: Uint8Array, ends: Uint32Array, from, count,
 * out: Uint8Array): bytes written to out. Record j of the queue is data[ends[j-1] .. ends[j]) (ends[-1] = 0).
 */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) return throw_error(env, "seal: 8 arguments expected");
  Sealer *sealer;
  if (napi_get_value_external(env, argv[0], (void **)&sealer) != napi_ok) return throw_error(env, "seal: not a sealer");
  uint8_t *prev, *data, *out;
  size_t prev_length, data_length, out_length;
  if (!get_bytes(env, argv[1], &prev, &prev_length) || prev_length != HEX) return throw_error(env, "seal: prev must be 64 hex bytes");
  double first_seq;
  if (napi_get_value_double(env, argv[2], &first_seq) != napi_ok || !(first_seq >= 0 && first_seq <= 9007199254740991.0))
    return throw_error(env, "seal: bad firstSeq");
  if (!get_bytes(env, argv[3], &data, &data_length)) return throw_error(env, "seal: data must be a Uint8Array");
  size_t ends_count;
  void *ends_raw;
  if (!get_typed(env, argv[4], napi_uint32_array, &ends_raw, &ends_count)) return throw_error(env, "seal: ends must be a Uint32Array");
  const uint32_t *ends = ends_raw;
  uint32_t from, count;
  if (napi_get_value_uint32(env, argv[5], &from) != napi_ok || napi_get_value_uint32(env, argv[6], &count) != napi_ok)
    return throw_error(env, "seal: bad from/count");
  if (!get_bytes(env, argv[7], &out, &out_length)) return throw_error(env, "seal: out must be a Uint8Array");
  if ((uint64_t)from + count > ends_count) return throw_error(env, "seal: records beyond ends");

  uint8_t prev_hex[HEX];
  memcpy(prev_hex, prev, HEX);
  size_t pos = 0;
  size_t start = from > 0 ? ends[from - 1] : 0;
  uint64_t seq = (uint64_t)first_seq;
  for (uint32_t i = 0; i < count; i++) {
    size_t end = ends[from + i];
    if (end < start || end > data_length) return throw_error(env, "seal: record ends out of order or beyond data");
    if (pos + (end - start) + LINE_OVERHEAD > out_length) return throw_error(env, "seal: out is too small");
    size_t line_start = pos;
    pos = put(out, pos, "{\"v\":1,\"seq\":", 13);
    pos = put_uint(out, pos, seq + i);
    memcpy(out + pos, data + start, end - start);
    pos += end - start;
    pos = put(out, pos, ",\"prev\":\"", 9);
    pos = put(out, pos, (const char *)prev_hex, HEX);
    pos = put(out, pos, "\"}", 2);
    /* HMAC(key, prev + line so far), as seal-batch.ts and chain.ts compute it. */
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = sealer->inner;
    SHA256_Update(&ctx, prev_hex, HEX);
    SHA256_Update(&ctx, out + line_start, pos - line_start);
    SHA256_Final(digest, &ctx);
    ctx = sealer->outer;
    SHA256_Update(&ctx, digest, sizeof digest);
    SHA256_Final(digest, &ctx);
    for (int b = 0; b < SHA256_DIGEST_LENGTH; b++) {
      prev_hex[2 * b] = (uint8_t)HEXDIGITS[digest[b] >> 4];
      prev_hex[2 * b + 1] = (uint8_t)HEXDIGITS[digest[b] & 15];
    }
    /* The hash goes before the line's closing brace. */
    pos = put(out, pos - 1, ",\"hash\":\"", 9);
    pos = put(out, pos, (const char *)prev_hex, HEX);
    pos = put(out, pos, "\"}\n", 3);
    start = end;
  }
  napi_value written;
  napi_create_double(env, (double)pos, &written);
  return written;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "createSealer", NAPI_AUTO_LENGTH, create_sealer, NULL, &fn);
  napi_set_named_property(env, exports, "createSealer", fn);
  napi_create_function(env, "seal", NAPI_AUTO_LENGTH, seal, NULL, &fn);
  napi_set_named_property(env, exports, "seal", fn);
  return exports;
}
