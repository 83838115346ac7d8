/** Errors answered the way the Cosmos DB service answers them: a JSON body `{code, message}` and x-ms headers. */
import type http from 'node:http';

/** Cosmos error codes dgf answers with, by HTTP status. */
export const CosmosErrorCode = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  413: 'RequestEntityTooLarge',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
} as const;

export type CosmosErrorStatus = keyof typeof CosmosErrorCode;

/** Send a Cosmos-style error. `close` ends the connection (the request body was not fully read). */
export function sendCosmosError(
  res: http.ServerResponse,
  status: CosmosErrorStatus,
  message: string,
  headers: Record<string, string> = {},
  close = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code: CosmosErrorCode[status], message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-ms-request-charge': '0',
    ...(close ? { connection: 'close' } : {}),
    ...headers,
  });
  res.end(body);
}
