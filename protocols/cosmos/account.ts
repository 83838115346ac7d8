/**
 * The database account document (`GET /`) names the endpoints the SDK talks to after discovery. Every
 * absolute URL in it that points at the upstream is rewritten to dgf's own endpoint, or the SDK's endpoint
 * discovery (on by default) would route around the proxy.
 */

/** Rewrite every string that starts with one of `upstreamOrigins` (and every location endpoint) to `endpoint`. */
export function rewriteAccount(doc: unknown, endpoint: string, upstreamOrigins: readonly string[]): unknown {
  const target = endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
  const lowered = upstreamOrigins.map((o) => o.toLowerCase().replace(/\/+$/, ''));
  const visit = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      if (key === 'databaseAccountEndpoint') return target;
      const lower = value.toLowerCase();
      for (const origin of lowered) {
        if (lower === origin || lower.startsWith(`${origin}/`)) return target + value.slice(origin.length).replace(/^\/+/, '');
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((v) => visit(v, key));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = visit(v, k);
      return out;
    }
    return value;
  };
  return visit(doc, '');
}
