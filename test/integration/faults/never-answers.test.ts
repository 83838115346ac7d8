/**
 * An upstream that accepts connections and then says nothing (a hung server, a black-holing middlebox), or
 * answers half a message and stops: every protocol's client gets that protocol's own error within
 * upstream.connectTimeoutMs / replyTimeoutMs (0.5 s here) plus slack, never hangs, and /health says degraded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { request } from 'undici';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { mutePeer, settlesWithin, waitHealth } from '../../helpers/backends.js';
import { expectedAuthorization } from '../cosmos/verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const COSMOS_KEY = key('cosmos-real-key');
const APP_KEY = key('app-key');
const BLOB_KEY = key('blob-real-key');
/** A client must see its error within this (the 1 s timeouts plus scheduling slack on a loaded machine). */
const PROMPT_MS = 3500;

/** Half of each protocol's first answer: the header of a message whose body never comes. */
const HALF = {
  // AuthenticationOk announces 8 bytes; only its code and length arrive.
  postgres: Buffer.from([0x52, 0, 0, 0, 8]),
  // The HELLO map starts, its first value never comes.
  redis: Buffer.from('%7\r\n$6\r\nserver\r\n$5\r\nre'),
  // An OP_MSG header announcing 200 bytes, then nothing.
  mongodb: Buffer.from([200, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0]),
  http: Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/js'),
};

type Peer = Awaited<ReturnType<typeof mutePeer>>;
const MODES = ['silent', 'half'] as const;

describe('faults: an upstream that never answers', () => {
  let dgf: TestDgf;
  const peers: Peer[] = [];
  const port = (name: string): number => dgf.listener(name).address.port;

  before(async () => {
    const listeners: Record<string, unknown>[] = [];
    const timeouts = { connectTimeoutMs: 500, replyTimeoutMs: 500 };
    for (const mode of MODES) {
      const peer = async (half: Buffer): Promise<number> => {
        const p = await mutePeer(mode === 'half' ? half : null);
        peers.push(p);
        return p.port;
      };
      listeners.push(
        { name: `pg-${mode}`, protocol: 'postgres', listen: '127.0.0.1:0', upstream: { url: `postgres://postgres@127.0.0.1:${await peer(HALF.postgres)}/postgres?sslmode=disable`, ...timeouts } },
        { name: `redis-${mode}`, protocol: 'redis', listen: '127.0.0.1:0', upstream: { url: `redis://127.0.0.1:${await peer(HALF.redis)}`, ...timeouts }, options: { memoryPollMs: 0 } },
        { name: `mongo-${mode}`, protocol: 'mongodb', listen: '127.0.0.1:0', upstream: { url: `mongodb://127.0.0.1:${await peer(HALF.mongodb)}/?directConnection=true`, ...timeouts }, users: [{ name: 'app', password: 'app-pw' }] },
        {
          name: `cosmos-${mode}`,
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: `http://127.0.0.1:${await peer(HALF.http)}`, key: COSMOS_KEY, ...timeouts },
          users: [{ name: 'app', key: APP_KEY }],
        },
        {
          name: `blob-${mode}`,
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: `http://127.0.0.1:${await peer(HALF.http)}/acct`, account: 'acct', key: BLOB_KEY, ...timeouts },
          users: [{ name: 'app', key: APP_KEY }],
          options: { scanStorageOnStart: false },
        },
      );
    }
    const t0 = Date.now();
    dgf = await startDgf({ roles: [{ match: { user: 'app' }, role: 'admin' }], listeners });
    // Starting must not wait on a silent upstream longer than its connect timeout.
    assert.ok(Date.now() - t0 < 10_000, `dgf took ${Date.now() - t0} ms to start`);
  });

  after(async () => {
    await dgf?.stop();
    for (const p of peers) await p.close();
  });

  for (const mode of MODES) {
    test(`postgres (${mode}): SQLSTATE error, no hang`, async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: port(`pg-${mode}`), user: 'postgres', database: 'postgres' });
      c.on('error', () => undefined);
      const r = await settlesWithin(
        (async () => {
          await c.connect();
          return c.query('select 1');
        })(),
        PROMPT_MS,
      );
      await c.end().catch(() => undefined);
      assert.ok(r.error, 'the query must fail');
      const code = (r.error as Error & { code?: string }).code;
      assert.match(String(code), /^[0-9A-Z]{5}$/, `a PostgreSQL error with a SQLSTATE, got ${r.error.message}`);
      assert.match(r.error.message, /upstream/i);
    });

    test(`redis (${mode}): -ERR reply, no hang`, async () => {
      const c = new Redis({ host: '127.0.0.1', port: port(`redis-${mode}`), maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      c.on('error', () => undefined);
      const r = await settlesWithin(
        (async () => {
          await c.connect();
          return c.get('k');
        })(),
        PROMPT_MS,
      );
      c.disconnect();
      assert.ok(r.error, 'GET must fail');
      assert.match(r.error.message, /ERR|upstream|Connection is closed/i);
    });

    test(`mongodb (${mode}): HostUnreachable error reply, no hang`, async () => {
      const c = new MongoClient(`mongodb://app:app-pw@127.0.0.1:${port(`mongo-${mode}`)}/app?directConnection=true`, { serverSelectionTimeoutMS: 3000, retryReads: false });
      const r = await settlesWithin(c.db('app').collection('c').findOne({}), PROMPT_MS);
      await c.close();
      assert.ok(r.error, 'find must fail');
      assert.match(r.error.message, /upstream unavailable|HostUnreachable|timed out/i);
      assert.equal((r.error as Error & { code?: number }).code, 6, `HostUnreachable (6), got ${r.error.message}`);
    });

    test(`cosmos (${mode}): an HTTP 5xx with a Cosmos error body, no hang`, async () => {
      const date = new Date().toUTCString();
      const r = await settlesWithin(
        request(`http://127.0.0.1:${port(`cosmos-${mode}`)}/dbs`, {
          headers: { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: encodeURIComponent(expectedAuthorization(APP_KEY, 'GET', '/dbs', date)) },
        }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() })),
        PROMPT_MS,
      );
      assert.equal(r.error, null, r.error?.message);
      assert.ok(r.value!.status >= 500, `status ${r.value!.status}`);
      assert.match(r.value!.body, /"code"/);
    });

    test(`blob (${mode}): an HTTP 5xx with a storage error, no hang`, async () => {
      const c = new BlobServiceClient(`http://127.0.0.1:${port(`blob-${mode}`)}/app`, new StorageSharedKeyCredential('app', APP_KEY), { retryOptions: { maxTries: 1 } });
      const r = await settlesWithin(c.getContainerClient('c').getProperties(), PROMPT_MS);
      assert.ok(r.error, 'the request must fail');
      const status = (r.error as Error & { statusCode?: number }).statusCode;
      assert.ok(status !== undefined && status >= 500, `status ${status}: ${r.error.message}`);
    });
  }

  // Logged in, then silent (or half an answer) on the first request: upstream.replyTimeoutMs bounds the wait.
  const PG_LOGIN = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]); // AuthenticationOk, ReadyForQuery
  const REDIS_LOGIN = Buffer.from('*4\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n');
  for (const [mode, later] of [
    ['after login, silent', Buffer.alloc(0)],
    ['after login, half', null],
  ] as const) {
    test(`postgres (${mode}): SQLSTATE error within replyTimeoutMs`, async () => {
      const peer = await mutePeer(PG_LOGIN, later ?? Buffer.from([0x54, 0, 0, 0, 100, 0, 1, 0x61]));
      peers.push(peer);
      const extra = await startDgf({
        roles: [{ match: { user: 'postgres' }, role: 'admin' }],
        listeners: [{ name: 'pg', protocol: 'postgres', listen: '127.0.0.1:0', upstream: { url: `postgres://postgres@127.0.0.1:${peer.port}/postgres?sslmode=disable`, connectTimeoutMs: 500, replyTimeoutMs: 500 } }],
      });
      try {
        const c = new pg.Client({ host: '127.0.0.1', port: extra.listener('pg').address.port, user: 'postgres', database: 'postgres' });
        c.on('error', () => undefined);
        const r = await settlesWithin(
          (async () => {
            await c.connect();
            return c.query('select 1');
          })(),
          // The first connection's catalog refresh waits its own replyTimeoutMs before the client's query runs.
          PROMPT_MS + 1000,
        );
        await c.end().catch(() => undefined);
        assert.ok(r.error, 'the query must fail');
        assert.match(String((r.error as Error & { code?: string }).code), /^[0-9A-Z]{5}$/, r.error.message);
        assert.match(r.error.message, /replyTimeoutMs|upstream/);
      } finally {
        await extra.stop();
      }
    });

    test(`redis (${mode}): -ERR within replyTimeoutMs`, async () => {
      const peer = await mutePeer(REDIS_LOGIN, later ?? Buffer.from('$100\r\nonly-part'));
      peers.push(peer);
      const extra = await startDgf({
        listeners: [
          { name: 'r', protocol: 'redis', listen: '127.0.0.1:0', upstream: { url: `redis://127.0.0.1:${peer.port}`, connectTimeoutMs: 500, replyTimeoutMs: 500 }, options: { memoryPollMs: 0 } },
        ],
      });
      try {
        const c = new Redis({ host: '127.0.0.1', port: extra.listener('r').address.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => undefined);
        const r = await settlesWithin(c.get('k'), PROMPT_MS);
        c.disconnect();
        assert.ok(r.error, 'GET must fail');
        assert.match(r.error.message, /ERR dgf: .*replyTimeoutMs|ERR dgf: upstream/);
      } finally {
        await extra.stop();
      }
    });
  }

  test('/health reports the silent upstreams as down, promptly', async () => {
    const t0 = Date.now();
    const r = await fetch(`${dgf.adminUrl}/health`);
    const body = (await r.json()) as { status: string; upstreams: Array<{ name: string; status: string }> };
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(body.status, 'degraded');
    assert.ok(body.upstreams.every((u) => u.status === 'down'), JSON.stringify(body.upstreams));
    await waitHealth(dgf.adminUrl, 'degraded', 1000);
  });
});
