/**
 * One client connection: frames in, one command at a time (MongoDB connections are request/response),
 * handshake and authentication answered by dgf, every other command governed (decision, quota, audit),
 * forwarded through the driver and its reply masked on the way back. A client's garbage ends that
 * client's connection only, after an error reply in MongoDB's format where one can be addressed.
 */
import type net from 'node:net';
import { Binary, deserialize, serialize, type Document } from 'bson';
import { ReadPreference, type ReadPreferenceMode } from 'mongodb';
import { ProtocolError } from '../shared/errors.js';
import type { Identity } from '../../src/policy/types.js';
import type { Operation } from '../../src/governance/operation.js';
import { ErrorCode, OpCode } from './codec/constants.js';
import { MessageFramer } from './codec/framer.js';
import { decodeOpMsg, encodeOpMsg, type OpMsg } from './codec/op-msg.js';
import { decodeOpQuery, encodeOpReply } from './codec/op-query.js';
import { compressedRefusal } from './codec/op-compressed.js';
import { BsonIterator, findElement } from './codec/bson-view.js';
import { maskCursorReply, maskDistinctReply, maskValueReply, readCursorInfo } from './codec/reply.js';
import { UnmaskableDocumentError } from './codec/bson-mask.js';
import { ScramConversation, ScramError } from './auth/scram.js';
import { describeCommand, type CommandInfo, type DescribeOptions } from './command.js';
import type { MongoListenerContext } from './context.js';
import { errmsgOf, scrubReply } from './error-scrub.js';
import { helloReply, isHello } from './handshake.js';
import { ShapePlanner } from './masking.js';
import { ROOT } from './lineage/values.js';
import { deniedReply, errorReply, OK_REPLY, overQuotaReply } from './replies.js';
import { rawDocumentSequence, type DriverServer, type ForwardKind } from './upstream/driver-internals.js';
import type { MappedSession } from './upstream/sessions.js';
import { errorReplyFrom } from './upstream/client.js';

/** Decoded command values keep their BSON types so they are re-encoded exactly as the client sent them. */
const DECODE_OPTIONS = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true, useBigInt64: false } as const;
const DECODE_INSERT = { ...DECODE_OPTIONS, fieldsAsRaw: { documents: true } } as const;

/** Commands a client may send before authenticating. */
const PRE_AUTH = new Set(['hello', 'ismaster', 'saslstart', 'saslcontinue', 'ping', 'endsessions', 'logout', 'buildinfo', 'getnonce']);
/** Fields the driver owns on the upstream leg. */
const DRIVER_FIELDS = ['$db', 'lsid', 'txnNumber', 'autocommit', 'startTransaction', '$clusterTime', '$readPreference'];
/** Reads the driver may retry once after a failover. */
const RETRYABLE_READS = new Set(['find', 'aggregate', 'count', 'distinct', 'listcollections', 'listindexes', 'listdatabases']);
const CURSOR_CREATING = new Set(['find', 'aggregate', 'listcollections', 'listindexes']);
/** Writes that are retryable when the client sent a txnNumber (multi-statement updates/deletes never carry one). */
const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findandmodify', 'bulkwrite']);
/** Reply fields whose values are user data: masked. Commands listed here get a planner. */
const MASKED_REPLIES = new Set(['find', 'aggregate', 'getmore', 'findandmodify', 'distinct']);
/** Read-ahead bound: frames queued while one command runs. */
const MAX_QUEUED = 8;
/** Shared find planners kept per listener (role x collection); see MongoListenerContext.planners. */
const MAX_SHARED_PLANNERS = 64;
/** Planners kept per traced result shape (role x collection). */
const MAX_RESULT_PLANNERS = 16;
/** The rule id a lineage refusal is audited under. */
const LINEAGE_RULE = 'dgf-lineage';
/** Write commands whose successful replies may carry write errors that echo values. */
const WRITE_REPLIES = new Set(['insert', 'update', 'delete', 'findandmodify', 'bulkwrite']);
/** DDL after which the view catalog of the database is reloaded. */
const CATALOG_DDL = new Set(['create', 'drop', 'collmod', 'renamecollection', 'dropdatabase']);
/** The highest wire version whose `$toString`/`$convert` cannot turn a document into a string (MongoDB 8.0). */
const WIRE_8_0 = 25;

function lsidKey(cmd: Document): string | null {
  const lsid = cmd.lsid as { id?: unknown } | undefined;
  const id = lsid?.id;
  if (id instanceof Binary) return Buffer.from(id.buffer).toString('hex');
  return null;
}

function txnString(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return String((v as { toString(): string }).toString());
}

function plainNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { valueOf?: () => unknown }).valueOf === 'function') {
    const n = Number((v as { valueOf(): unknown }).valueOf());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A client's `$readPreference` for the driver's server selection. */
function readPreferenceOf(v: unknown): ReadPreference | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const rp = v as { mode?: unknown; tags?: unknown; maxStalenessSeconds?: unknown; hedge?: unknown };
  if (typeof rp.mode !== 'string') return undefined;
  try {
    const tags = Array.isArray(rp.tags) ? (rp.tags as Array<Record<string, string>>) : undefined;
    const maxStalenessSeconds = plainNumber(rp.maxStalenessSeconds);
    return new ReadPreference(rp.mode as ReadPreferenceMode, tags, maxStalenessSeconds !== undefined ? { maxStalenessSeconds } : {});
  } catch {
    return undefined;
  }
}

function cursorId(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  return String((v as { toString(): string }).toString());
}

export class MongoClientConnection {
  private readonly framer: MessageFramer;
  private readonly queue: Buffer[] = [];
  private processing = false;
  private closed = false;
  private draining = false;
  private released = false;
  private readonly connectionId: number;
  private user: string | null = null;
  private application: string | undefined;
  private role = 'default';
  private identity: Identity;
  private scram: ScramConversation | null = null;
  private scramSkipEmpty = false;
  private scramDone = false;
  private readonly overConnectionLimit: boolean;
  private readonly encrypted: boolean;

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: MongoListenerContext,
  ) {
    this.framer = new MessageFramer(ctx.maxMessageBytes);
    this.connectionId = ctx.nextConnectionId();
    this.identity = { user: '', address: socket.remoteAddress ?? '' };
    this.encrypted = 'encrypted' in socket && (socket as { encrypted?: boolean }).encrypted === true;
    ctx.gov.clientOpened();
    const count = ctx.gov.quota.connectionOpened();
    const limit = ctx.gov.quota.limits('connections');
    this.overConnectionLimit = limit !== undefined && count > limit && ctx.gov.quota.onExceed === 'reject';
    if (ctx.trust) this.role = ctx.gov.roleOf(this.identity);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => ctx.logger.debug({ err: err.message }, 'mongodb client socket error'));
    socket.once('close', () => this.onClose());
    socket.on('drain', () => {
      if (this.queue.length < MAX_QUEUED) socket.resume();
    });
  }

  private onClose(): void {
    this.closed = true;
    this.queue.length = 0;
    this.framer.reset();
    this.release();
  }

  /** Give back the connection's slot in the metrics and the quota, exactly once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.gov.clientClosed();
    this.ctx.gov.quota.connectionClosed();
  }

  /** Whether the client has authenticated (or the listener trusts it): the pre-authentication guard's question. */
  get authenticated(): boolean {
    return this.user !== null || this.ctx.trust;
  }

  /** Shutdown: close now if idle, else right after the command in flight has been answered. */
  closeIdle(): void {
    this.draining = true;
    if (!this.processing) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk, (frame) => {
        // A view into the socket's chunk; copied only when it must outlive a queued wait.
        this.queue.push(frame);
      });
    } catch (err) {
      this.fatal(err, this.queue.length === 0 ? peekRequestId(chunk) : 0);
      return;
    }
    if (this.queue.length >= MAX_QUEUED) this.socket.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        await this.handleFrame(frame);
        if (this.queue.length < MAX_QUEUED && !this.socket.writableNeedDrain && this.socket.isPaused()) this.socket.resume();
      }
    } catch (err) {
      this.fatal(err, (err as { requestId?: number }).requestId ?? 0);
    } finally {
      this.processing = false;
      if (this.draining && !this.closed) this.socket.end();
    }
  }

  /** Answer a protocol error addressed to `requestId` (when known) and close. */
  private fatal(err: unknown, requestId: number): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof ProtocolError ? Number(err.code) || ErrorCode.ProtocolError : ErrorCode.InternalError;
    this.ctx.logger.debug({ err: message }, 'mongodb client protocol error');
    try {
      this.socket.write(encodeOpMsg(errorReply(code, `dgf: ${message}`), requestId));
    } catch {
      // The socket is already gone; closing is all that is left.
    }
    this.closed = true;
    this.queue.length = 0;
    this.socket.end();
    this.socket.destroySoon();
    this.release();
  }

  private send(bytes: Buffer): void {
    if (this.closed) return;
    if (!this.socket.write(bytes)) this.socket.pause();
  }

  private async handleFrame(frame: Buffer): Promise<void> {
    const opCode = frame.readInt32LE(12);
    const requestId = frame.readInt32LE(4);
    switch (opCode) {
      case OpCode.OP_MSG: {
        let msg: OpMsg;
        try {
          msg = decodeOpMsg(frame);
        } catch (err) {
          if (err instanceof ProtocolError && !err.fatal) {
            this.send(encodeOpMsg(errorReply(Number(err.code), `dgf: ${err.message}`), requestId));
            return;
          }
          throw Object.assign(err as Error, { requestId });
        }
        await this.handleOpMsg(msg);
        return;
      }
      case OpCode.OP_QUERY:
        await this.handleOpQuery(frame, requestId);
        return;
      case OpCode.OP_COMPRESSED: {
        // The refusal goes out uncompressed (a server may always answer uncompressed), then the connection ends:
        // a client that compresses without agreement would keep doing so.
        const refusal = compressedRefusal(frame);
        this.send(encodeOpMsg(errorReply(Number(refusal.code), `dgf: ${refusal.message}`), requestId));
        this.socket.end();
        this.closed = true;
        this.release();
        return;
      }
      default:
        this.fatal(new ProtocolError(`unsupported opcode ${opCode}`, String(ErrorCode.ProtocolError)), requestId);
    }
  }

  private async handleOpQuery(frame: Buffer, requestId: number): Promise<void> {
    const q = decodeOpQuery(frame);
    let cmd: Document;
    try {
      cmd = deserialize(q.query, DECODE_OPTIONS);
    } catch (err) {
      this.send(encodeOpReply(errorReply(ErrorCode.InvalidBSON, `dgf: invalid BSON: ${(err as Error).message}`), requestId));
      return;
    }
    if (cmd.$query && typeof cmd.$query === 'object') cmd = cmd.$query as Document;
    if (this.overConnectionLimit) {
      const limit = this.ctx.gov.quota.limits('connections') ?? 0;
      this.send(encodeOpReply(errorReply(ErrorCode.AtlasError, `dgf: connection limit of ${limit} reached for this cluster`), requestId));
      this.socket.end();
      return;
    }
    const name = Object.keys(cmd)[0] ?? '';
    if (!q.fullCollectionName.endsWith('.$cmd') || !isHello(name.toLowerCase())) {
      this.send(encodeOpReply(errorReply(352, 'dgf: OP_QUERY is only supported for the hello/isMaster handshake; use OP_MSG', { codeName: 'UnsupportedOpQueryCommand' }), requestId));
      return;
    }
    const reply = await this.hello(cmd, name === 'isMaster' || name === 'ismaster');
    this.send(encodeOpReply(serialize(reply), requestId));
  }

  private async hello(cmd: Document, legacy: boolean): Promise<Document> {
    const client = cmd.client as { application?: { name?: unknown } } | undefined;
    if (this.application === undefined && typeof client?.application?.name === 'string') {
      this.application = client.application.name;
      this.identity = { ...this.identity, application: this.application };
    }
    let saslSupportedMechs: string[] | undefined;
    if (typeof cmd.saslSupportedMechs === 'string') {
      const user = cmd.saslSupportedMechs.slice(cmd.saslSupportedMechs.indexOf('.') + 1);
      saslSupportedMechs = [...this.ctx.credentials.values()].filter((c) => c.has(user)).map((c) => c.mechanism.name);
    }
    let speculativeAuthenticate: Document | undefined;
    const spec = cmd.speculativeAuthenticate as Document | undefined;
    if (spec && typeof spec === 'object' && spec.saslStart !== undefined) {
      const r = await this.saslStart(spec);
      if (r.ok === 1) speculativeAuthenticate = r;
    }
    return helloReply({
      upstream: this.ctx.upstream.hello,
      connectionId: this.connectionId,
      legacy,
      ...(saslSupportedMechs ? { saslSupportedMechs } : {}),
      ...(speculativeAuthenticate ? { speculativeAuthenticate } : {}),
    });
  }

  private async saslStart(cmd: Document): Promise<Document> {
    const mechanism = typeof cmd.mechanism === 'string' ? cmd.mechanism : '';
    const creds = this.ctx.credentials.get(mechanism);
    if (!creds) {
      return { ok: 0, errmsg: `dgf: authentication mechanism ${mechanism || '(none)'} is not enabled on this listener`, code: ErrorCode.MechanismUnavailable, codeName: 'MechanismUnavailable' };
    }
    const payload = cmd.payload instanceof Binary ? Buffer.from(cmd.payload.buffer) : Buffer.alloc(0);
    const conv = new ScramConversation(creds);
    try {
      const serverFirst = await conv.start(payload);
      this.scram = conv;
      this.scramDone = false;
      this.scramSkipEmpty = Boolean((cmd.options as { skipEmptyExchange?: unknown } | undefined)?.skipEmptyExchange);
      return { conversationId: 1, done: false, payload: new Binary(serverFirst), ok: 1 };
    } catch (err) {
      return this.authFailed(conv.user, err);
    }
  }

  private async saslContinue(cmd: Document): Promise<Document> {
    const conv = this.scram;
    if (!conv) return { ok: 0, errmsg: 'dgf: no SASL conversation in progress', code: ErrorCode.ProtocolError, codeName: 'ProtocolError' };
    if (this.scramDone) {
      this.scram = null;
      return { conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)), ok: 1 };
    }
    const payload = cmd.payload instanceof Binary ? Buffer.from(cmd.payload.buffer) : Buffer.alloc(0);
    let serverFinal: Buffer;
    try {
      serverFinal = conv.finish(payload);
    } catch (err) {
      this.scram = null;
      return this.authFailed(conv.user, err);
    }
    this.user = conv.user;
    this.identity = { ...this.identity, user: conv.user };
    this.role = this.ctx.gov.roleOf(this.identity);
    this.scramDone = true;
    const op = this.ctx.gov.begin({ identity: this.identity, role: this.role, operation: 'authenticate', kind: 'session', statement: `authenticate ${conv.mechanism}` });
    await op.finish({ rows: null });
    if (this.scramSkipEmpty) this.scram = null;
    return { conversationId: 1, done: this.scramSkipEmpty, payload: new Binary(serverFinal), ok: 1 };
  }

  private async authFailed(user: string, err: unknown): Promise<Document> {
    const identity: Identity = { ...this.identity, user };
    const op = this.ctx.gov.begin({ identity, role: this.ctx.gov.roleOf(identity), operation: 'authenticate', kind: 'session', statement: 'authenticate' });
    await op.finish({ rows: null, error: err instanceof ScramError ? 'authentication failed' : String(err) }).catch(() => undefined);
    return { ok: 0, errmsg: 'Authentication failed.', code: ErrorCode.AuthenticationFailed, codeName: 'AuthenticationFailed' };
  }

  private reply(msg: OpMsg, body: Uint8Array): void {
    if (msg.moreToCome) return; // the client asked for no reply (unacknowledged write)
    this.send(encodeOpMsg(body, msg.requestId));
  }

  private async handleOpMsg(msg: OpMsg): Promise<void> {
    let cmd: Document;
    const isInsert = firstNameIs(msg.body, 'insert');
    try {
      cmd = deserialize(msg.body, isInsert ? DECODE_INSERT : DECODE_OPTIONS);
    } catch (err) {
      this.reply(msg, errorReply(ErrorCode.InvalidBSON, `dgf: invalid BSON: ${(err as Error).message}`));
      return;
    }
    const name = Object.keys(cmd)[0] ?? '';
    const lower = name.toLowerCase();
    const db = typeof cmd.$db === 'string' ? cmd.$db : '';
    if (this.overConnectionLimit) {
      const limit = this.ctx.gov.quota.limits('connections') ?? 0;
      this.reply(msg, errorReply(ErrorCode.AtlasError, `dgf: connection limit of ${limit} reached for this cluster`));
      this.socket.end();
      return;
    }
    if (isHello(lower)) {
      this.reply(msg, serialize(await this.hello(cmd, name !== 'hello')));
      return;
    }
    if (lower === 'saslstart') {
      this.reply(msg, serialize(await this.saslStart(cmd)));
      return;
    }
    if (lower === 'saslcontinue') {
      this.reply(msg, serialize(await this.saslContinue(cmd)));
      return;
    }
    if (lower === 'ping') {
      this.reply(msg, OK_REPLY);
      return;
    }
    if (!db) {
      this.reply(msg, errorReply(ErrorCode.FailedToParse, 'dgf: OP_MSG command has no $db'));
      return;
    }
    if (this.user === null && !this.ctx.trust) {
      if (lower === 'endsessions' || lower === 'logout') {
        this.reply(msg, OK_REPLY);
        return;
      }
      if (!PRE_AUTH.has(lower) || lower === 'buildinfo' || lower === 'getnonce') {
        this.reply(msg, errorReply(ErrorCode.Unauthorized, `command ${name} requires authentication`));
        return;
      }
    }
    if (lower === 'endsessions') {
      const ids = Array.isArray(cmd.endSessions) ? (cmd.endSessions as Array<{ id?: unknown }>) : [];
      for (const s of ids) if (s?.id instanceof Binary) await this.ctx.sessions.end(this.user ?? '', Buffer.from(s.id.buffer).toString('hex'));
      this.reply(msg, OK_REPLY);
      return;
    }
    if (lower === 'logout') {
      this.reply(msg, OK_REPLY);
      return;
    }
    await this.governed(msg, cmd, name, lower, db);
  }

  /** A command past the handshake: decide, check quota, forward, mask, audit, reply. */
  private async governed(msg: OpMsg, cmd: Document, name: string, lower: string, db: string): Promise<void> {
    const sequences = new Map<string, unknown[]>();
    const rawSequences: Array<{ identifier: string; documents: Buffer[] }> = [];
    for (const s of msg.sequences) {
      rawSequences.push(s);
      if (s.identifier === 'updates' || s.identifier === 'deletes' || s.identifier === 'ops') {
        try {
          sequences.set(s.identifier, s.documents.slice(0, 1000).map((d) => deserialize(d, DECODE_OPTIONS)));
        } catch (err) {
          this.reply(msg, errorReply(ErrorCode.InvalidBSON, `dgf: invalid BSON: ${(err as Error).message}`));
          return;
        }
      }
    }
    const insertCount = msg.sequences.find((s) => s.identifier === 'documents')?.documents.length ?? 0;
    const policy = this.ctx.gov.policy();
    const masked = policy.masksAnyFor(this.role);
    let info: CommandInfo;
    try {
      info = await this.describe(cmd, db, sequences, insertCount, masked);
    } catch (err) {
      this.reply(msg, errorReply(ErrorCode.InternalError, `dgf: the command could not be analysed: ${(err as Error).message}`));
      return;
    }
    const open = lower === 'getmore' ? this.ctx.cursors.get(cursorId(cmd.getMore) ?? '') : undefined;
    if (lower === 'getmore' && open) info.objects[0] = open.ns;
    if (lower === 'getmore' && open) info.statement = `getmore ${open.ns}`;
    const verdict = this.ctx.verdicts.get(info.trace, policy, this.role);
    let operation = info.operation;
    for (const js of info.jsOperators) {
      const d = policy.decide({
        listener: this.ctx.gov.name,
        protocol: 'mongodb',
        identity: this.identity,
        role: this.role,
        operation: js,
        kind: info.kind,
        objects: info.objects,
      });
      if (d.action === 'deny') {
        operation = js;
        break;
      }
    }
    const op = this.ctx.gov.begin({
      identity: { ...this.identity, database: db },
      role: this.role,
      operation,
      kind: info.kind,
      objects: info.objects,
      fields: info.fields,
      statement: info.statement,
      encrypted: this.encrypted && this.ctx.upstream.client.options.tls === true,
      ...(info.tags.length > 0 ? { tags: info.tags } : {}),
      ...(verdict.readsMasked ? { readsMasked: true } : {}),
    });
    if (op.denied) {
      await this.finishAndReply(msg, op, deniedReply(op.decision.message ?? `dgf: ${operation} is not allowed`), { error: op.decision.message ?? 'denied' });
      return;
    }
    if (verdict.refusal !== null) {
      // The masking guarantee: what dgf cannot trace, or would let the role copy where it cannot follow, never runs.
      op.denyBy(LINEAGE_RULE, verdict.refusal);
      await this.finishAndReply(msg, op, deniedReply(verdict.refusal), { error: verdict.refusal });
      return;
    }
    if (info.grows) {
      const check = this.ctx.gov.quota.checkWrite();
      if (!check.ok) {
        const limit = this.ctx.gov.quota.limits('storage') ?? 0;
        await this.finishAndReply(msg, op, overQuotaReply(this.ctx.storageBytes, limit), { error: check.message ?? 'storage quota exceeded' });
        return;
      }
    }
    const kept = op.intent();
    if (kept !== null) {
      // Write-ahead: nothing goes upstream before the intent record is kept.
      try {
        await kept;
      } catch (err) {
        const text = `dgf: the audit record of this command could not be kept (audit failMode closed); it was not run (${(err as Error).message})`;
        await this.finishAndReply(msg, op, errorReply(ErrorCode.InternalError, text), { error: 'audit record could not be kept' });
        return;
      }
    }
    try {
      await this.forward(msg, cmd, name, lower, db, info, op, rawSequences, open, masked);
    } catch (err) {
      // Masking failed (e.g. a reply whose BSON lies): fail closed, never pass the reply clear.
      const text = err instanceof Error ? err.message : String(err);
      await this.finishAndReply(msg, op, errorReply(ErrorCode.InternalError, `dgf: ${text}`), { error: text });
    }
  }

  /**
   * Describe a command with its lineage. For a role with masks, views are resolved through the catalog: a database
   * whose catalog is stale, or a name the catalog does not know, is (re)loaded first, then the command traced again.
   */
  private async describe(cmd: Document, db: string, sequences: ReadonlyMap<string, unknown[]>, insertCount: number, masked: boolean): Promise<CommandInfo> {
    const objectToString = this.ctx.upstream.hello.maxWireVersion > WIRE_8_0;
    const views = this.ctx.views;
    const options = (): DescribeOptions =>
      masked
        ? { trace: { views: views.resolve, objectToString }, traceTag: `v${views.id}.${views.generation}|${objectToString ? 's' : ''}` }
        : { trace: { objectToString }, traceTag: `-|${objectToString ? 's' : ''}` };
    const info = describeCommand(cmd, db, sequences, insertCount, options());
    if (!masked || info.trace.namespaces.length === 0) return info;
    const waits: Array<Promise<void>> = [];
    for (const ns of info.trace.namespaces) {
      const w = views.ensureFresh(ns.slice(0, ns.indexOf('.')));
      if (w) waits.push(w);
    }
    if (info.trace.unresolved.length > 0) waits.push(views.refresh(info.trace.unresolved));
    if (waits.length === 0) return info;
    await Promise.all(waits);
    return describeCommand(cmd, db, sequences, insertCount, options());
  }

  private async finishAndReply(msg: OpMsg, op: Operation, body: Uint8Array, result: { error?: string | null; rows?: number | null; upstreamMs?: number }): Promise<void> {
    try {
      await op.finish(result);
    } catch (err) {
      this.reply(msg, errorReply(ErrorCode.InternalError, `dgf: audit record could not be kept; result withheld (${(err as Error).message})`));
      return;
    }
    this.reply(msg, body);
  }

  private async forward(
    msg: OpMsg,
    cmd: Document,
    name: string,
    lower: string,
    db: string,
    info: CommandInfo,
    op: Operation,
    rawSequences: Array<{ identifier: string; documents: Buffer[] }>,
    open: ReturnType<MongoListenerContext['cursors']['get']>,
    masked: boolean,
  ): Promise<void> {
    const user = this.user ?? '';
    const key = lsidKey(cmd);
    const mapped: MappedSession | null = key ? this.ctx.sessions.get(user, key) : null;
    const txn = txnString(cmd.txnNumber);
    const readPreference = readPreferenceOf(cmd.$readPreference);

    if (lower === 'committransaction' || lower === 'aborttransaction') {
      await this.endTransaction(msg, op, lower, mapped, txn);
      return;
    }
    if (lower === 'killcursors') {
      await this.killCursors(msg, cmd, db, op, mapped);
      return;
    }

    const outgoing: Document = {};
    for (const [k, v] of Object.entries(cmd)) if (!DRIVER_FIELDS.includes(k)) outgoing[k] = v;
    // Insert documents travel as a raw document sequence: never decoded, never re-encoded.
    if (lower === 'insert' && Array.isArray(outgoing.documents)) {
      outgoing.documents = rawDocumentSequence('documents', outgoing.documents as Uint8Array[]);
    }
    for (const s of rawSequences) outgoing[s.identifier] = rawDocumentSequence(s.identifier, s.documents);

    let kind: ForwardKind = 'plain';
    let server: DriverServer | undefined;
    if (mapped && cmd.startTransaction === true) {
      if (mapped.session.inTransaction()) await mapped.session.abortTransaction().catch(() => undefined);
      const rc = cmd.readConcern as Document | undefined;
      delete outgoing.readConcern;
      mapped.session.startTransaction(rc ? { readConcern: { level: String(rc.level ?? 'local') as 'local' } } : {});
      mapped.clientTxn = txn;
    } else if (mapped && cmd.autocommit === false) {
      if (!mapped.session.inTransaction() || mapped.clientTxn !== txn) {
        await this.finishAndReply(
          msg,
          op,
          errorReply(ErrorCode.NoSuchTransaction, `Transaction with txnNumber ${txn ?? '?'} has been aborted or does not exist`, { errorLabels: ['TransientTransactionError'] }),
          { error: 'NoSuchTransaction' },
        );
        return;
      }
    } else if (lower === 'getmore') {
      if (!open || open.user !== user) {
        await this.finishAndReply(msg, op, errorReply(ErrorCode.CursorNotFound, `cursor id ${cursorId(cmd.getMore) ?? '?'} not found`), { error: 'CursorNotFound' });
        return;
      }
      kind = 'cursor-follow';
      server = open.server;
      outgoing.getMore = cmd.getMore;
    } else if (txn !== null && mapped && RETRYABLE_WRITES.has(lower)) {
      kind = 'write';
      if (mapped.lastWriteTxn === txn) {
        // The client is retrying this very write: reuse the upstream txnNumber so the server deduplicates it.
        const ss = (mapped.session as unknown as { serverSession?: { txnNumber: number } }).serverSession;
        if (ss && ss.txnNumber > 0) ss.txnNumber -= 1;
      }
      mapped.lastWriteTxn = txn;
    } else if (RETRYABLE_READS.has(lower) && !info.trace.writeStage) {
      kind = 'read';
    }

    const session = lower === 'getmore' ? (open?.session?.session ?? undefined) : mapped?.session;
    if (mapped) mapped.busy++;
    const started = process.hrtime.bigint();
    const result = await this.ctx.upstream
      .forward(
        db,
        outgoing,
        name,
        kind,
        {
          ...(session ? { session } : {}),
          ...(readPreference && !(mapped?.session.inTransaction() ?? false) ? { readPreference } : {}),
          ...(server ? { server } : {}),
          cursorCreating: CURSOR_CREATING.has(lower),
        },
        kind === 'write',
      )
      .finally(() => {
        if (mapped) mapped.busy--;
      });
    const upstreamMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (!result.ok) {
      if (lower === 'getmore') this.ctx.cursors.delete(cursorId(cmd.getMore) ?? '');
      let reply = result.reply;
      let error = result.error;
      if (masked) {
        // MongoDB quotes values in its errors: scrubbed before the client or the audit record sees them.
        const scrubbed = scrubReply(reply, { policy: this.ctx.gov.policy(), role: this.role, command: cmd, stats: op });
        if (scrubbed) {
          reply = scrubbed;
          error = errmsgOf(scrubbed) ?? 'error';
        }
      }
      await this.finishAndReply(msg, op, reply, { error, upstreamMs });
      return;
    }

    let reply: Uint8Array = result.reply;
    if (CATALOG_DDL.has(lower)) {
      // A view may have been created, changed or dropped: the next masked read of this database reloads its views.
      this.ctx.views.invalidate(db);
      for (const ns of [cmd.renameCollection, cmd.to]) if (typeof ns === 'string' && ns.includes('.')) this.ctx.views.invalidate(ns.slice(0, ns.indexOf('.')));
    }
    if (masked && (info.trace.explain || (WRITE_REPLIES.has(lower) && (findElement(reply, 0, 'writeErrors') || findElement(reply, 0, 'writeConcernError') || lower === 'bulkwrite')))) {
      // An explain is a plan, never documents; write errors and write concern errors echo values: scrubbed.
      const scrubbed = scrubReply(reply, { policy: this.ctx.gov.policy(), role: this.role, command: cmd, stats: op });
      if (scrubbed) reply = scrubbed;
    }
    if (MASKED_REPLIES.has(lower) && !info.trace.explain) {
      const planner = open?.planner ?? this.plannerFor(info);
      planner.refresh(op);
      const count = (): void => {
        op.rows++;
      };
      let masked: Buffer | null = null;
      try {
        if (lower === 'findandmodify') masked = maskValueReply(reply, planner, count);
        else if (lower === 'distinct') masked = maskDistinctReply(reply, planner, String(cmd.key ?? ''), count);
        else masked = maskCursorReply(reply, planner, count);
      } catch (err) {
        if (!(err instanceof UnmaskableDocumentError)) throw err;
        await this.finishAndReply(msg, op, errorReply(ErrorCode.BSONObjectTooLarge, err.message), { error: err.message, upstreamMs });
        return;
      }
      if (masked) reply = masked;
      if (lower !== 'findandmodify' && lower !== 'distinct') {
        const c = readCursorInfo(result.reply);
        if (c) {
          const id = c.id.toString();
          if (lower === 'getmore') {
            if (c.id === 0n) this.ctx.cursors.delete(id);
          } else if (c.id !== 0n && result.server) {
            this.ctx.cursors.add({ id, ns: c.ns || info.objects[0]!, user, server: result.server, session: mapped, planner, source: lower, lastUse: Date.now() });
          }
        }
      }
    } else if (CURSOR_CREATING.has(lower) && result.server) {
      // listCollections/listIndexes cursors carry catalog data, not user documents: pinned, not masked.
      const c = readCursorInfo(reply);
      if (c && c.id !== 0n) this.ctx.cursors.add({ id: c.id.toString(), ns: c.ns, user, server: result.server, session: mapped, planner: null, source: lower, lastUse: Date.now() });
    } else if (info.kind === 'write') {
      const n = findElement(reply, 0, 'n');
      if (n) op.rows = n.numberValue();
    }
    const writeError = masked && reply !== result.reply ? errmsgOf(reply) : null;
    await this.finishAndReply(msg, op, reply, writeError ? { upstreamMs, error: writeError } : { upstreamMs });
  }

  /**
   * The planner of a new result shape: the collection's fields, through the command's lineage (pipeline, projection,
   * views). Planners are shared: plain finds per role and collection, traced shapes per trace, role and collection, so
   * a repeated command shape reuses the compiled path tree.
   */
  private plannerFor(info: CommandInfo): ShapePlanner {
    const result = info.trace.result;
    const lineage = result !== null && result.output !== ROOT ? result : null;
    const gov = this.ctx.gov;
    const object = info.objects[0] ?? info.db;
    const create = (): ShapePlanner => new ShapePlanner(() => gov.policy(), gov.policy(), this.role, object, lineage, (o, fields) => gov.recordFields(o, fields));
    const key = `${this.role}\u0000${object}`;
    if (lineage !== null) {
      let byShape = this.ctx.resultPlanners.get(lineage);
      if (!byShape) this.ctx.resultPlanners.set(lineage, (byShape = new Map()));
      let planner = byShape.get(key);
      if (!planner) {
        planner = create();
        if (byShape.size >= MAX_RESULT_PLANNERS) byShape.clear();
        byShape.set(key, planner);
      }
      return planner;
    }
    let planner = this.ctx.planners.get(key);
    if (!planner) {
      planner = create();
      // Bounded: a client inventing collection names cannot grow memory (each planner caps its own tree).
      if (this.ctx.planners.size >= MAX_SHARED_PLANNERS) this.ctx.planners.clear();
      this.ctx.planners.set(key, planner);
    }
    return planner;
  }

  private async endTransaction(msg: OpMsg, op: Operation, lower: string, mapped: MappedSession | null, txn: string | null): Promise<void> {
    if (!mapped || (mapped.clientTxn !== txn && txn !== null)) {
      const reply = errorReply(ErrorCode.NoSuchTransaction, `no such transaction for ${lower === 'aborttransaction' ? 'abortTransaction' : 'commitTransaction'}`, {
        errorLabels: ['TransientTransactionError'],
      });
      await this.finishAndReply(msg, op, reply, { error: 'NoSuchTransaction' });
      return;
    }
    mapped.busy++;
    const started = process.hrtime.bigint();
    try {
      if (lower === 'committransaction') await mapped.session.commitTransaction();
      else await mapped.session.abortTransaction();
      await this.finishAndReply(msg, op, OK_REPLY, { upstreamMs: Number(process.hrtime.bigint() - started) / 1e6 });
    } catch (err) {
      await this.finishAndReply(msg, op, errorReplyFrom(err, false), { error: err instanceof Error ? err.message : String(err) });
    } finally {
      mapped.busy--;
    }
  }

  /** killCursors: each id goes to the server that owns it; the replies are merged into one. */
  private async killCursors(msg: OpMsg, cmd: Document, db: string, op: Operation, mapped: MappedSession | null): Promise<void> {
    const ids = Array.isArray(cmd.cursors) ? (cmd.cursors as unknown[]) : [];
    const killed: unknown[] = [];
    const notFound: unknown[] = [];
    for (const raw of ids) {
      const id = cursorId(raw) ?? '';
      const open = this.ctx.cursors.get(id);
      if (!open || open.user !== (this.user ?? '')) {
        notFound.push(raw);
        continue;
      }
      this.ctx.cursors.delete(id);
      const session = open.session?.session ?? mapped?.session;
      const r = await this.ctx.upstream.forward(db, { killCursors: cmd.killCursors, cursors: [raw] }, 'killCursors', 'cursor-follow', {
        server: open.server,
        ...(session ? { session } : {}),
      });
      if (r.ok) killed.push(raw);
      else notFound.push(raw);
    }
    await this.finishAndReply(msg, op, serialize({ cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 }), {});
  }
}

function firstNameIs(body: Buffer, name: string): boolean {
  const it = new BsonIterator().reset(body, 0);
  return it.next() && it.nameIs(name);
}

/** requestID of a frame whose header is in `chunk`, to address an error reply; 0 when unknown. */
function peekRequestId(chunk: Buffer): number {
  return chunk.length >= 8 ? chunk.readInt32LE(4) : 0;
}
