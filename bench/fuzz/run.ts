/**
 * Live fuzzing: N fuzzed frames per codec (default 10,000,000) against a running dgf (the real CLI, own process,
 * one listener per protocol in front of the test backends), over real sockets, many frames per write, reconnecting
 * whenever dgf closes a connection (its expected answer to garbage). Reports per codec the frames sent, the
 * connections used, the errors dgf answered in its protocol's own format, malformed answers, and for the run the
 * crashes (dgf process exit: the goal is 0, dgf is restarted to go on) and dgf's peak RSS.
 *
 *   node --import tsx bench/fuzz/run.ts [--frames 10000000] [--minutes 20] [--codecs postgres,redis,...]
 *                                       [--conns 4] [--batch 64] [--seed 1] [--out bench/results/fuzz.json]
 *
 * Needs the backends: `bash scripts/backends.sh start`.
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FrameDecoder } from '../../protocols/postgres/codec/frame-decoder.js';
import { ReplyScanner } from '../../protocols/redis/codec/reply-scanner.js';
import { MessageFramer } from '../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg } from '../../protocols/mongodb/codec/op-msg.js';
import { findElement } from '../../protocols/mongodb/codec/bson-view.js';
import { PROTOCOL_NAMES, metric, rssOf, startLiveDgf, type LiveDgf, type ProtocolName } from './live-dgf.js';
import * as gen from './generators.js';

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string', default: '10000000' },
    minutes: { type: 'string', default: '0' },
    codecs: { type: 'string', default: PROTOCOL_NAMES.join(',') },
    conns: { type: 'string', default: '4' },
    batch: { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const FRAMES = Number(args.frames);
const DEADLINE = Number(args.minutes) > 0 ? Date.now() + Number(args.minutes) * 60_000 : Infinity;
const CODECS = args.codecs!.split(',') as ProtocolName[];
const CONNS = Number(args.conns);
const BATCH = Number(args.batch);
const SEED = Number(args.seed);

const GENERATORS: Record<ProtocolName, gen.FrameGenerator> = { postgres: gen.postgres, redis: gen.redis, mongodb: gen.mongodb, cosmos: gen.cosmos, blob: gen.blob };

interface CodecStats {
  frames: number;
  bytes: number;
  connections: number;
  /** Connections dgf closed (or reset) before we ended them. */
  closedByDgf: number;
  connectFailures: number;
  /** Error answers in the protocol's own format (ErrorResponse, -ERR, ok:0, HTTP 4xx/5xx). */
  errorsAnswered: number;
  answers: number;
  /** Answers our client-side decoders could not parse (a dgf bug if ever non-zero, save truncation at close). */
  malformedAnswers: number;
  startedAt: number;
  endedAt: number;
}

const stats = Object.fromEntries(
  CODECS.map((c) => [c, { frames: 0, bytes: 0, connections: 0, closedByDgf: 0, connectFailures: 0, errorsAnswered: 0, answers: 0, malformedAnswers: 0, startedAt: Date.now(), endedAt: 0 }]),
) as Record<ProtocolName, CodecStats>;

const crashes: Array<{ at: string; exit: string; stderrTail: string }> = [];
let peakRss = 0;
let live: LiveDgf;
let restarting: Promise<void> | null = null;

/** Counts answers and error answers in what dgf sends back on one connection. */
function answerCounter(codec: ProtocolName, s: CodecStats): (chunk: Buffer) => void {
  switch (codec) {
    case 'postgres': {
      const d = new FrameDecoder(256 * 1024 * 1024);
      let broken = false;
      return (chunk) => {
        if (broken) return;
        try {
          d.push(chunk);
          while (d.next()) {
            s.answers++;
            if (d.code === 0x45) s.errorsAnswered++;
          }
        } catch {
          broken = true;
          s.malformedAnswers++;
        }
      };
    }
    case 'redis': {
      const sc = new ReplyScanner();
      let broken = false;
      const sink = {
        onFrameBytes(_c: Buffer, _s: number, _e: number, complete: boolean): void {
          if (!complete) return;
          s.answers++;
          if (sc.frameType === 0x2d || sc.frameType === 0x21) s.errorsAnswered++;
        },
      };
      return (chunk) => {
        if (broken) return;
        try {
          sc.push(chunk, sink);
        } catch {
          broken = true;
          s.malformedAnswers++;
        }
      };
    }
    case 'mongodb': {
      const f = new MessageFramer(64 * 1024 * 1024);
      let broken = false;
      return (chunk) => {
        if (broken) return;
        try {
          f.push(chunk, (frame) => {
            s.answers++;
            if (frame.readInt32LE(12) !== 2013) return;
            const m = decodeOpMsg(frame);
            const ok = findElement(m.body, 0, 'ok');
            if (!ok || ok.numberValue() !== 1) s.errorsAnswered++;
          });
        } catch {
          broken = true;
          s.malformedAnswers++;
        }
      };
    }
    default: {
      let tail = '';
      return (chunk) => {
        const text = tail + chunk.toString('latin1');
        for (const m of text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) {
          s.answers++;
          if (Number(m[1]) >= 400) s.errorsAnswered++;
        }
        tail = text.slice(-16);
      };
    }
  }
}

function budgetLeft(s: CodecStats): boolean {
  return s.frames < FRAMES && Date.now() < DEADLINE;
}

/** One connection's life: preamble, then batches until dgf closes it or 32 batches were sent. */
async function oneConnection(codec: ProtocolName, rng: gen.Rng): Promise<void> {
  const s = stats[codec];
  const g = GENERATORS[codec];
  const port = live.ports[codec];
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  let closed = false;
  let weEnded = false;
  const count = answerCounter(codec, s);
  sock.on('data', count);
  const done = new Promise<void>((resolve) => {
    sock.on('close', () => {
      closed = true;
      resolve();
    });
  });
  sock.on('error', () => undefined);
  const connected = await new Promise<boolean>((resolve) => {
    sock.once('connect', () => resolve(true));
    sock.once('error', () => resolve(false));
  });
  if (!connected) {
    s.connectFailures++;
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    return;
  }
  s.connections++;
  const pre = g.preamble(rng);
  if (pre.length > 0) sock.write(pre);
  const batches = 1 + rng.int(32);
  for (let i = 0; i < batches && !closed && budgetLeft(s); i++) {
    const frames: Buffer[] = [];
    for (let k = 0; k < BATCH; k++) frames.push(g.frame(rng));
    const buf = Buffer.concat(frames);
    s.frames += BATCH;
    s.bytes += buf.length;
    if (!sock.write(buf)) {
      await Promise.race([new Promise((r) => sock.once('drain', r)), done, new Promise((r) => setTimeout(r, 2000))]);
    }
    // Let dgf answer (and maybe close) before the next batch, as a real client would.
    await new Promise((r) => setImmediate(r));
  }
  if (!closed) {
    weEnded = true;
    sock.end();
    const t = setTimeout(() => sock.destroy(), 2000);
    await done;
    clearTimeout(t);
  }
  if (!weEnded) s.closedByDgf++;
}

async function codecLoop(codec: ProtocolName, worker: number): Promise<void> {
  const rng = new gen.Rng(SEED * 7919 + PROTOCOL_NAMES.indexOf(codec) * 104729 + worker);
  while (budgetLeft(stats[codec])) {
    if (restarting) await restarting;
    await oneConnection(codec, rng);
  }
  stats[codec].endedAt = Date.now();
}

async function watchDgf(stop: () => boolean): Promise<void> {
  while (!stop()) {
    const { peak } = rssOf(live.pid);
    if (peak > peakRss) peakRss = peak;
    if (live.exited && !restarting) {
      const exit = JSON.stringify(live.exited);
      crashes.push({ at: new Date().toISOString(), exit, stderrTail: live.stderr().slice(-4000) });
      console.error(`!! dgf exited ${exit}; restarting\n${live.stderr().slice(-2000)}`);
      restarting = (async () => {
        live = await startLiveDgf({ pgAuth: 'trust' });
        restarting = null;
      })();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every 15 s: dgf's RSS, V8 heap in use and /metrics sample lines, to tell a bounded RSS from a growing one. */
const trend: Array<{ seconds: number; rssMiB: number; heapUsedMiB: number; metricSeries: number }> = [];
let trendStartedAt = 0;

async function sampleTrend(): Promise<void> {
  const text = await fetch(`${live.adminUrl}/metrics`).then((r) => r.text(), () => '');
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  trend.push({
    seconds: Math.round((Date.now() - trendStartedAt) / 1000),
    rssMiB: Math.round(rssOf(live.pid).rss / 1048576),
    heapUsedMiB: Math.round(metric(text, 'dgf_nodejs_heap_size_used_bytes') / 1048576),
    metricSeries: series,
  });
}

function report(): void {
  const now = Date.now();
  const line = CODECS.map((c) => {
    const s = stats[c];
    const secs = ((s.endedAt || now) - s.startedAt) / 1000;
    return `${c} ${(s.frames / 1e6).toFixed(2)}M (${Math.round(s.frames / secs)}/s) conns ${s.connections} err ${s.errorsAnswered}`;
  }).join(' | ');
  console.log(`[${new Date().toISOString().slice(11, 19)}] rss ${(rssOf(live.pid).rss / 1048576).toFixed(0)} MiB peak ${(peakRss / 1048576).toFixed(0)} MiB crashes ${crashes.length} | ${line}`);
}

async function main(): Promise<void> {
  live = await startLiveDgf({ pgAuth: 'trust' });
  console.log(`dgf pid ${live.pid}, ports ${JSON.stringify(live.ports)}; ${FRAMES} frames per codec, batch ${BATCH}, ${CONNS} connections per codec`);
  const started = Date.now();
  let finished = false;
  const watcher = watchDgf(() => finished);
  trendStartedAt = started;
  const ticker = setInterval(() => {
    report();
    void sampleTrend();
  }, 15_000);
  await Promise.all(CODECS.flatMap((c) => Array.from({ length: CONNS }, (_, w) => codecLoop(c, w))));
  finished = true;
  clearInterval(ticker);
  await watcher;
  // A crash in the very last moments still counts.
  await new Promise((r) => setTimeout(r, 1000));
  if (live.exited) crashes.push({ at: new Date().toISOString(), exit: JSON.stringify(live.exited), stderrTail: live.stderr().slice(-4000) });
  const { peak } = rssOf(live.pid);
  if (peak > peakRss) peakRss = peak;
  report();
  const ready = await fetch(`${live.adminUrl}/ready`).then((r) => r.status, () => 0);
  const result = {
    date: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    framesPerCodecTarget: FRAMES,
    batch: BATCH,
    connectionsPerCodec: CONNS,
    seed: SEED,
    crashes,
    trend,
    peakRssBytes: peakRss,
    readyAfterRun: ready,
    stderrLines: live.stderr().split('\n').filter(Boolean).length,
    stderrSample: live.stderr().slice(-3000),
    codecs: Object.fromEntries(CODECS.map((c) => [c, { ...stats[c], seconds: ((stats[c].endedAt || Date.now()) - stats[c].startedAt) / 1000 }])),
  };
  await live.stop();
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  if (args.out) writeFileSync(args.out, json);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
  void live?.stop();
});
