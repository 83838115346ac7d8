/**
 * A loopback pass-through in front of cosmosdb-server (which checks no keys): it verifies every request's
 * master-key signature with the REAL key, computed here independently of dgf's code, records the outcome,
 * and forwards to https://127.0.0.1:8081.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

export interface SeenRequest {
  method: string;
  path: string;
  valid: boolean;
  authorization: string;
}

export interface VerifyingUpstream {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** The Cosmos REST rule: resource type and link from the path (feed vs item; offers sign the lower-cased rid). */
function resourceOf(path: string): { type: string; link: string } {
  const segs = path.split('?')[0]!.replace(/^\/+|\/+$/g, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (segs.length === 0) return { type: '', link: '' };
  if (segs.length % 2 === 1) return { type: segs[segs.length - 1]!, link: segs.slice(0, -1).join('/') };
  const type = segs[segs.length - 2]!;
  return { type, link: type === 'offers' ? segs[segs.length - 1]!.toLowerCase() : segs.join('/') };
}

export function expectedAuthorization(key: string, method: string, path: string, date: string): string {
  const { type, link } = resourceOf(path);
  const text = `${method.toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(text).digest('base64');
  return `type=master&ver=1.0&sig=${sig}`;
}

export async function startVerifyingUpstream(realKey: string, target = 'https://127.0.0.1:8081'): Promise<VerifyingUpstream> {
  const seen: SeenRequest[] = [];
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = decodeURIComponent(String(req.headers.authorization ?? ''));
      const date = String(req.headers['x-ms-date'] ?? '');
      const valid = auth === expectedAuthorization(realKey, req.method!, req.url!, date);
      seen.push({ method: req.method!, path: req.url!, valid, authorization: auth });
      if (!valid) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'Unauthorized', message: 'verifying upstream: bad signature for the real key' }));
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      request(`${target}${req.url}`, {
        method: req.method as 'GET',
        headers: headers as Record<string, string>,
        body: chunks.length ? Buffer.concat(chunks) : null,
        dispatcher,
      })
        .then(async (up) => {
          const body = Buffer.from(await up.body.arrayBuffer());
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(up.headers)) {
            if (v !== undefined && !['connection', 'transfer-encoding', 'content-length', 'keep-alive'].includes(k)) out[k] = v;
          }
          out['content-length'] = String(body.length);
          res.writeHead(up.statusCode, out);
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(502);
          res.end(err.message);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
    },
  };
}
