/** Small HTTP helpers of the admin API: JSON answers, JSON errors, bounded body reading. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body accepted, in bytes (1 MiB); larger is a 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** An error answered as `{"error": {"code", "message", ...details}}` with `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, jsonReplacer);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.details } }, err.headers);
}

/** bigint (e.g. from a masked integer) and Buffer values, which JSON.stringify cannot or should not print as-is. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

/**
 * Read and parse a JSON body of at most `maxBytes`. Throws HttpError 413 when larger (checked against
 * Content-Length first, then while reading), 400 when empty or not JSON.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) throw new HttpError(400, 'BAD_REQUEST', 'a JSON request body is required');
  const text = Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, 'BAD_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, undefined, { connection: 'close' });
}

/** A query parameter as a Date (ISO-8601 or epoch ms); HttpError 400 when unparsable. */
export function dateParam(params: URLSearchParams, name: string): Date | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const d = /^\d+$/.test(raw) ? new Date(Number(raw)) : new Date(raw);
  if (Number.isNaN(d.getTime())) throw new HttpError(400, 'BAD_REQUEST', `${name} must be an ISO-8601 date or time, got '${raw.slice(0, 64)}'`);
  return d;
}

/** A query parameter as an integer within [min, max]; default when absent; HttpError 400 otherwise. */
export function intParam(params: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, 'BAD_REQUEST', `${name} must be an integer between ${min} and ${max}`);
  return Math.min(max, Math.max(min, Number(raw)));
}
