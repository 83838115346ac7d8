/** Errors answered the way Azure Storage answers them: an XML `<Error>` body and the `x-ms-error-code` header. */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** The XML body of an Azure Storage error. */
export function blobErrorXml(code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${xmlEscape(code)}</Code>` +
    `<Message>${xmlEscape(message)}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`
  );
}

/** Send an Azure-style error. `close` ends the connection (the request body was not read). */
export function sendBlobError(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { head?: boolean; close?: boolean; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const requestId = randomUUID();
  const body = blobErrorXml(code, message, requestId);
  res.writeHead(status, message.length < 200 ? message.replace(/[^\x20-\x7e]/g, ' ') : undefined, {
    'content-type': 'application/xml',
    'x-ms-error-code': code,
    'x-ms-request-id': requestId,
    'content-length': options.head ? '0' : String(Buffer.byteLength(body)),
    ...(options.close ? { connection: 'close' } : {}),
    ...options.headers,
  });
  res.end(options.head ? undefined : body);
}
