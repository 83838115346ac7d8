/**
 * The Blob Storage listener: an HTTP(S) server in front of one storage account. Applications keep
 * `@azure/storage-blob` and change only the endpoint (`http://<dgf>/<user>`) and the credential
 * (`StorageSharedKeyCredential(<user>, <key dgf issued>)`).
 */
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { numberOption, probeHttpUpstream, startGovernedHttpServer } from '../shared/http-listener-setup.js';
import { createUpstreamPool } from '../shared/http-upstream.js';
import { BlobForwarder, type BlobOptions } from './forwarder.js';
import { scanAccountStorage, signedUpstreamRequest } from './storage-scan.js';
import { StorageLedger } from './storage-ledger.js';

function stringList(name: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`blob option ${name} must be a list of container/blob globs`);
  return v as string[];
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
    bodyIdleTimeoutMs: numberOption('blob', opts, 'bodyIdleTimeoutMs', 30_000),
    maxUploadBytes: numberOption('blob', opts, 'maxUploadBytes', 5000 * 1024 * 1024),
    maxScanBytes: numberOption('blob', opts, 'maxScanBytes', 64 * 1024 * 1024),
    maxMaskBytes: numberOption('blob', opts, 'maxMaskBytes', config.maxMessageBytes),
    allowAnonymous: opts.allowAnonymous === true,
    labelMetadata: opts.labelMetadata === true,
    cleanObjects: stringList('cleanObjects', opts.cleanObjects),
    binaryOnlyObjects: stringList('binaryOnlyObjects', opts.binaryOnlyObjects),
    maskCacheBytes: numberOption('blob', opts, 'maskCacheBytes', 64 * 1024 * 1024),
  };
  const upstream = createUpstreamPool(url, config.upstream);
  const ledger = new StorageLedger((bytes) => gov.quota.setUsage('storage', bytes));
  const forwarder = new BlobForwarder(ctx, upstream, account, accountKey, options, ledger);
  const server = await startGovernedHttpServer(ctx, forwarder.handle, upstream, { requestTimeoutMs: 0 });
  const address = server.address;
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
    checkUpstream(): Promise<UpstreamHealth> {
      return probeHttpUpstream(config.name, upstream, () =>
        signedUpstreamRequest(upstream, account, accountKey, 'GET', '/', 'comp=properties&restype=service'),
      );
    },
    async close(drainMs = 5000): Promise<void> {
      await server.close(drainMs);
    },
  };
  return listener;
};
