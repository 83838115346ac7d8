/**
 * The Blob Storage listener: an HTTP(S) server in front of one storage account. Applications keep
 * `@azure/storage-blob` and change only the endpoint (`http://<dgf>/<user>`) and the credential
 * (`StorageSharedKeyCredential(<user>, <key dgf issued>)`).
 */
import { performance } from 'node:perf_hooks';
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { HttpListener } from '../shared/http-server.js';
import { createUpstreamPool, poolStats } from '../shared/http-upstream.js';
import { BlobForwarder, type BlobOptions } from './forwarder.js';
import { scanAccountStorage, signedUpstreamRequest } from './storage-scan.js';
import { StorageLedger } from './storage-ledger.js';

function numberOption(options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`blob listener option ${name} must be a non-negative number`);
  return v;
}

export const start: ListenerFactory = async (ctx) => {
  const { config, governance: gov } = ctx;
  const url = config.upstream.url ?? config.upstream.endpoint;
  if (!url) throw new Error(`listener ${config.name}: blob needs upstream.url (https://<account>.blob.core.windows.net)`);
  if (!config.upstream.key) throw new Error(`listener ${config.name}: blob needs upstream.key (the account key)`);
  const account = config.upstream.account ?? new URL(url).hostname.split('.')[0]!;
  const accountKey = Buffer.from(config.upstream.key, 'base64');
  const opts = config.options ?? {};
  const options: BlobOptions = {
    bodyIdleTimeoutMs: numberOption(opts, 'bodyIdleTimeoutMs', 30_000),
    maxUploadBytes: numberOption(opts, 'maxUploadBytes', 5000 * 1024 * 1024),
    maxScanBytes: numberOption(opts, 'maxScanBytes', 64 * 1024 * 1024),
    maxMaskBytes: numberOption(opts, 'maxMaskBytes', config.maxMessageBytes),
    allowAnonymous: opts.allowAnonymous === true,
    labelMetadata: opts.labelMetadata === true,
  };
  const upstream = createUpstreamPool(url, config.upstream);
  const ledger = new StorageLedger((bytes) => gov.quota.setUsage('storage', bytes));
  const forwarder = new BlobForwarder(ctx, upstream, account, accountKey, options, ledger);
  const server = new HttpListener(config.listen, forwarder.handle, {
    ...(config.tls ? { tls: config.tls } : {}),
    limits: {
      maxHeaderBytes: numberOption(opts, 'maxHeaderBytes', 32 * 1024),
      headersTimeoutMs: numberOption(opts, 'headersTimeoutMs', 20_000),
      requestTimeoutMs: numberOption(opts, 'requestTimeoutMs', 0),
    },
    onConnection: (socket) => {
      gov.clientOpened();
      socket.once('close', () => gov.clientClosed());
    },
  });
  const address = await server.start();
  const statsTimer = setInterval(() => {
    const s = poolStats(upstream.pool);
    gov.setUpstreamConnections(s.active, s.idle);
  }, 1000);
  statsTimer.unref();
  if (opts.scanStorageOnStart !== false) {
    // One listing seeds the storage gauge; traffic keeps it current afterwards.
    scanAccountStorage(upstream, account, accountKey, ledger, () => gov.quota.countTransaction().ok).catch((err: unknown) =>
      gov.logger.warn({ err }, 'blob storage scan failed; storage usage counts uploads through dgf only'),
    );
  }

  const listener: RunningListener = {
    name: config.name,
    protocol: 'blob',
    address,
    async checkUpstream(): Promise<UpstreamHealth> {
      const started = performance.now();
      try {
        const res = await signedUpstreamRequest(upstream, account, accountKey, 'GET', '/', 'comp=properties&restype=service');
        await res.body.dump();
        const ms = (performance.now() - started).toFixed(1);
        if (res.statusCode < 400) return { name: config.name, status: 'up', detail: `${upstream.origin} answered in ${ms} ms` };
        return { name: config.name, status: 'down', detail: `${upstream.origin} answered ${res.statusCode}` };
      } catch (err) {
        return { name: config.name, status: 'down', detail: `${upstream.origin}: ${(err as Error).message}` };
      }
    },
    async close(drainMs = 5000): Promise<void> {
      clearInterval(statsTimer);
      await server.close(drainMs);
      await upstream.pool.close().catch(() => upstream.pool.destroy());
    },
  };
  return listener;
};
