/**
 * The Cosmos DB (SQL API over REST) listener: an HTTP(S) server in front of one Cosmos account.
 * Applications keep `@azure/cosmos` and change only the endpoint and the key (one dgf issued them).
 */
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { numberOption, probeHttpUpstream, startGovernedHttpServer } from '../shared/http-listener-setup.js';
import { createUpstreamPool } from '../shared/http-upstream.js';
import { CosmosForwarder, type CosmosOptions } from './forwarder.js';
import { authorizationHeader } from './signing.js';

export const start: ListenerFactory = async (ctx) => {
  const { config } = ctx;
  const endpoint = config.upstream.endpoint ?? config.upstream.url;
  if (!endpoint) throw new Error(`listener ${config.name}: cosmos needs upstream.endpoint (https://<account>.documents.azure.com)`);
  if (!config.upstream.key) throw new Error(`listener ${config.name}: cosmos needs upstream.key (the account's master key)`);
  const masterKey = Buffer.from(config.upstream.key, 'base64');
  const opts = config.options ?? {};
  const options: CosmosOptions = {
    ...(typeof opts.publicEndpoint === 'string' ? { publicEndpoint: opts.publicEndpoint } : {}),
    bodyIdleTimeoutMs: numberOption('cosmos', opts, 'bodyIdleTimeoutMs', 30_000),
    maxResponseBytes: numberOption('cosmos', opts, 'maxResponseBytes', config.maxMessageBytes),
    writeEstimatePerKiB: numberOption('cosmos', opts, 'writeEstimatePerKiB', 5),
  };
  const upstream = createUpstreamPool(endpoint, config.upstream);
  const scheme = config.tls ? 'https' : 'http';
  const forwarder = new CosmosForwarder(ctx, upstream, masterKey, scheme, options);
  const server = await startGovernedHttpServer(ctx, forwarder.handle, upstream, { requestTimeoutMs: 120_000 });
  const address = server.address;

  const listener: RunningListener = {
    name: config.name,
    protocol: 'cosmos',
    address,
    checkUpstream(): Promise<UpstreamHealth> {
      const date = new Date().toUTCString();
      return probeHttpUpstream(config.name, upstream, () =>
        upstream.pool.request({
          path: `${upstream.basePath}/`,
          method: 'GET',
          headers: { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: authorizationHeader(masterKey, 'GET', '', '', date) },
          headersTimeout: 5000,
          bodyTimeout: 5000,
        }),
      );
    },
    async close(drainMs = 5000): Promise<void> {
      await server.close(drainMs);
    },
  };
  return listener;
};
