/**
 * A reference point for bench/postgres/run.sh, not part of dgf: the least a Node.js PostgreSQL proxy does per
 * transaction. Each client connection gets its own upstream connection and the bytes are piped both ways, with
 * nothing else: no parsing, no pooling, no auth, no policy, no audit, no masking. Its CPU per transaction and its
 * ratio to PgBouncer show what Node's own per-read and per-write cost is, so the rest of dgf's is its own work.
 *
 *   node --import tsx bench/postgres/bare-pipe.ts LISTEN_PORT UPSTREAM_PORT
 */
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) {
  console.error('usage: bare-pipe.ts LISTEN_PORT UPSTREAM_PORT');
  process.exit(2);
}

net
  .createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  })
  .listen(listenPort, '127.0.0.1');
