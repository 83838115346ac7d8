/**
 * The upstream leg: one official-driver MongoClient per listener, authenticated with the proxy's own
 * credentials from `upstream.url` (SRV, TLS, SCRAM, replica-set discovery and failover are the driver's).
 * Client commands are forwarded through `executeForwarded` so retries, sessions and cursor pinning follow
 * the driver's specs; replies come back as bytes.
 */
import { readFileSync } from 'node:fs';
import { serialize } from 'bson';
import { MongoClient, MongoError, MongoNetworkError, MongoServerError, MongoWriteConcernError, type Document, type MongoClientOptions } from 'mongodb';
import type { UpstreamConfig } from '../../../src/config/types.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { ErrorCode } from '../codec/constants.js';
import { executeForwarded, type DriverServer, type ForwardKind, type ForwardOptions } from './driver-internals.js';

/** What dgf learns from the upstream's hello and repeats to its clients. */
export interface UpstreamHello {
  minWireVersion: number;
  maxWireVersion: number;
  maxBsonObjectSize: number;
  maxMessageSizeBytes: number;
  maxWriteBatchSize: number;
  logicalSessionTimeoutMinutes: number;
}

export const DEFAULT_HELLO: UpstreamHello = {
  minWireVersion: 0,
  maxWireVersion: 21,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  logicalSessionTimeoutMinutes: 30,
};

/** Result of one forwarded command: reply bytes (an error reply when the upstream failed). */
export interface ForwardResult {
  reply: Uint8Array;
  server: DriverServer | null;
  ok: boolean;
  /** Upstream error text (never values), for the audit record. */
  error: string | null;
}

export class Upstream {
  readonly client: MongoClient;
  hello: UpstreamHello = DEFAULT_HELLO;
  /** Called when the driver's monitor finds the upstream gone (an in-flight command may never settle). */
  private readonly onDown = new Set<() => void>();
  private readonly downGraceMs: number;

  constructor(config: UpstreamConfig, appName = 'dgf') {
    if (!config.url) throw new Error('mongodb listener needs upstream.url');
    const options: MongoClientOptions = {
      appName,
      // Counted against the free tier's 100 connections: the pool is the proxy's, not the clients'.
      maxPoolSize: config.maxConnections ?? 10,
      // dgf compresses nothing on the client leg either; keep both legs byte-identical for masking.
      compressors: ['none'],
      // A stopped or silent upstream fails the command (HostUnreachable) within upstream.connectTimeoutMs.
      serverSelectionTimeoutMS: config.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
      connectTimeoutMS: config.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
      // 0 (the default) waits as long as a command runs; set, a silent upstream fails the command.
      socketTimeoutMS: config.replyTimeoutMs ?? 0,
      retryReads: true,
      retryWrites: true,
    };
    if (config.ca) options.ca = readFileSync(config.ca);
    if (config.insecureSkipVerify) options.tlsAllowInvalidCertificates = true;
    this.client = new MongoClient(config.url, options);
    this.downGraceMs = config.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs;
    this.client.on('serverDescriptionChanged', (e: { newDescription: { type: string } }) => {
      if (e.newDescription.type !== 'Unknown') return;
      for (const f of [...this.onDown]) f();
    });
  }

  /**
   * `run`, but abandoned with a network error when the upstream is found gone while it runs and it has not
   * settled within the grace period (upstream.connectTimeoutMs) after that. A command in flight when the server
   * stopped was seen never to settle in the driver (CongoDB stopped under load), and a client must not hang; a
   * long command on a healthy server is never cut.
   */
  private untilUpstreamGone<T>(run: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let onDown: (() => void) | undefined;
    const gone = new Promise<never>((_, reject) => {
      onDown = (): void => {
        if (timer) return;
        timer = setTimeout(() => reject(new MongoNetworkError(`the upstream became unavailable and the command did not finish within ${this.downGraceMs} ms`)), this.downGraceMs);
        timer.unref();
      };
      this.onDown.add(onDown);
    });
    gone.catch(() => undefined);
    return Promise.race([run, gone]).finally(() => {
      this.onDown.delete(onDown!);
      if (timer) clearTimeout(timer);
    });
  }

  /**
   * Report the driver's pool to governance (dgf_upstream_connections, dgf_pool_wait_seconds) from its CMAP
   * events: open connections, how many are checked out, and how long each checkout waited.
   */
  monitorPool(report: (active: number, idle: number) => void, observeWait: (seconds: number) => void): void {
    let open = 0;
    let active = 0;
    const publish = (): void => report(active, Math.max(0, open - active));
    this.client.on('connectionCreated', () => {
      open++;
      publish();
    });
    this.client.on('connectionClosed', () => {
      open = Math.max(0, open - 1);
      publish();
    });
    this.client.on('connectionCheckedOut', (e: { durationMS?: number }) => {
      active++;
      if (typeof e.durationMS === 'number') observeWait(e.durationMS / 1000);
      publish();
    });
    this.client.on('connectionCheckedIn', () => {
      active = Math.max(0, active - 1);
      publish();
    });
  }

  /** Connect and learn the upstream's wire version range and limits. */
  async connect(): Promise<UpstreamHello> {
    await this.client.connect();
    const h = await this.client.db('admin').command({ hello: 1 });
    const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
    this.hello = {
      minWireVersion: num(h.minWireVersion, DEFAULT_HELLO.minWireVersion),
      maxWireVersion: num(h.maxWireVersion, DEFAULT_HELLO.maxWireVersion),
      maxBsonObjectSize: num(h.maxBsonObjectSize, DEFAULT_HELLO.maxBsonObjectSize),
      maxMessageSizeBytes: num(h.maxMessageSizeBytes, DEFAULT_HELLO.maxMessageSizeBytes),
      maxWriteBatchSize: num(h.maxWriteBatchSize, DEFAULT_HELLO.maxWriteBatchSize),
      logicalSessionTimeoutMinutes: num(h.logicalSessionTimeoutMinutes, DEFAULT_HELLO.logicalSessionTimeoutMinutes),
    };
    return this.hello;
  }

  /** Forward one command; upstream failures become error replies in MongoDB's own format. */
  async forward(db: string, command: Document, name: string, kind: ForwardKind, options: ForwardOptions, retryableWrite = false): Promise<ForwardResult> {
    try {
      const { reply, server } = await this.untilUpstreamGone(executeForwarded(this.client, db, command, name, kind, options));
      return { reply, server, ok: true, error: null };
    } catch (err) {
      return { reply: errorReplyFrom(err, retryableWrite), server: null, ok: false, error: errorText(err) };
    }
  }

  /** Storage used as Atlas counts it: dataSize + indexSize of every user database. */
  async storageBytes(): Promise<number> {
    const admin = this.client.db('admin');
    const list = await admin.command({ listDatabases: 1, nameOnly: true });
    let total = 0;
    for (const d of (list.databases ?? []) as Array<{ name: string }>) {
      if (d.name === 'admin' || d.name === 'local' || d.name === 'config') continue;
      const s = await this.client.db(d.name).command({ dbStats: 1 });
      total += Number(s.dataSize ?? 0) + Number(s.indexSize ?? 0);
    }
    return total;
  }

  async ping(): Promise<void> {
    await this.client.db('admin').command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close(true);
  }
}

function errorText(err: unknown): string {
  if (err instanceof MongoServerError) return `${err.codeName ?? err.code ?? 'error'}: ${err.message}`.slice(0, 300);
  return err instanceof Error ? err.message.slice(0, 300) : String(err);
}

/** A MongoDB error reply for an upstream failure, keeping the server's code, codeName and errorLabels. */
export function errorReplyFrom(err: unknown, retryableWrite: boolean): Uint8Array {
  if (err instanceof MongoWriteConcernError) return serialize(err.result);
  if (err instanceof MongoServerError) {
    const doc: Document = { ...err.errorResponse };
    if (doc.ok === undefined) doc.ok = 0;
    return serialize(doc);
  }
  const labels = err instanceof MongoError ? [...err.errorLabels] : [];
  // A network failure or no reachable primary: answer like a mongos that lost its shard, so drivers retry.
  if (retryableWrite && !labels.includes('RetryableWriteError')) labels.push('RetryableWriteError');
  return serialize({
    ok: 0,
    errmsg: `dgf: upstream unavailable: ${err instanceof Error ? err.message : String(err)}`,
    code: ErrorCode.HostUnreachable,
    codeName: 'HostUnreachable',
    ...(labels.length > 0 ? { errorLabels: labels } : {}),
  });
}
