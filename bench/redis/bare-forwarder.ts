/**
 * A reference point for bench/redis/run.sh, not part of dgf: the least a Node.js Redis proxy does per request.
 * It forwards every client's commands over one upstream connection and routes the replies back in order, with
 * dgf's batching (commands of one event-loop turn leave in one write, replies are written at the turn's end,
 * upstream reads go through onread slabs), and nothing else: no auth, no policy, no audit, no masking.
 * Its ratio to twemproxy shows what Node's own per-read and per-write cost leaves for governance.
 *
 *   node --import tsx bench/redis/bare-forwarder.ts LISTEN_PORT UPSTREAM_PORT
 *
 * It frames with dgf's own codec (RequestParser, ReplyScanner), so the parsing cost is dgf's too. Replies are
 * routed in order, one per command: no pub/sub, no blocking commands.
 */
import net from 'node:net';
import { command as encodeCommand } from '../../protocols/redis/codec/encode.js';
import { ReplyScanner, type FrameSink } from '../../protocols/redis/codec/reply-scanner.js';
import { RequestParser, type CommandSink } from '../../protocols/redis/codec/request-parser.js';
import { slabReader } from '../../protocols/shared/slab-reader.js';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) {
  console.error('usage: bare-forwarder.ts LISTEN_PORT UPSTREAM_PORT');
  process.exit(2);
}

/** The client of each command sent upstream, in order. */
const waiting: Array<net.Socket | undefined> = [];
let head = 0;

/** Reply bytes of this turn, by client: consecutive spans of one chunk for one client are merged. */
interface ReplySpan {
  client: net.Socket;
  chunk: Buffer;
  start: number;
  end: number;
}
const toClients: ReplySpan[] = [];
let clientsScheduled = false;

function writeClients(): void {
  clientsScheduled = false;
  for (const r of toClients) if (!r.client.destroyed) r.client.write(r.chunk.subarray(r.start, r.end));
  toClients.length = 0;
}

const replies: FrameSink = {
  onFrameBytes(chunk, start, end, complete) {
    const client = waiting[head]!;
    const last = toClients[toClients.length - 1];
    if (last && last.client === client && last.chunk === chunk && last.end === start) last.end = end;
    else toClients.push({ client, chunk, start, end });
    if (complete) waiting[head++] = undefined;
    if (!clientsScheduled) {
      clientsScheduled = true;
      setImmediate(writeClients);
    }
  },
};

const scanner = new ReplyScanner();
const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, onread: slabReader({ deliver: (chunk) => scanner.push(chunk, replies) }) });
upstream.setNoDelay(true);
upstream.on('error', (err) => {
  console.error('upstream:', err.message);
  process.exit(1);
});

const toUpstream: Buffer[] = [];
let upstreamBytes = 0;
let upstreamScheduled = false;

function writeUpstream(): void {
  upstreamScheduled = false;
  upstream.write(toUpstream.length === 1 ? toUpstream[0]! : Buffer.concat(toUpstream, upstreamBytes));
  toUpstream.length = 0;
  upstreamBytes = 0;
  if (head > 65536) {
    waiting.splice(0, head);
    head = 0;
  }
}

/** One client: its commands go upstream as their own bytes (inline commands re-encoded). */
class ClientCommands implements CommandSink {
  readonly parser = new RequestParser();
  constructor(private readonly client: net.Socket) {}

  onCommand(args: Buffer[], raw: Buffer[] | null): void {
    waiting.push(this.client);
    for (const b of raw ?? [encodeCommand(args)]) {
      toUpstream.push(b);
      upstreamBytes += b.length;
    }
    if (!upstreamScheduled) {
      upstreamScheduled = true;
      setImmediate(writeUpstream);
    }
  }
}

net
  .createServer({ noDelay: true }, (client) => {
    const commands = new ClientCommands(client);
    client.on('data', (chunk: Buffer) => {
      try {
        commands.parser.push(chunk, commands);
      } catch {
        client.destroy();
      }
    });
    client.on('error', () => client.destroy());
  })
  .listen(listenPort, '127.0.0.1');
