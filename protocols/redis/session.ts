/**
 * One client connection: parses its commands, authenticates it against the listener's users, governs every
 * command (firewall, quota, audit, masking) and routes it to a shared or dedicated upstream connection, then
 * writes the replies back in request order.
 *
 * Order: every command gets a Slot in the order it was read; replies fill their slots as they arrive and are
 * written in slot order. A client's commands go to one upstream connection at a time; when it must move (to a
 * dedicated connection for MULTI/WATCH/blocking/pub-sub/SELECT/tracking, or back), it waits until the previous
 * connection has answered everything it was sent (a drain barrier), so commands also execute in order.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type net from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import { CanonicalEntry } from '../../src/audit/entry.js';
import { QUEUED } from '../../src/audit/index.js';
import type { AuditEntry, IntentSlot } from '../../src/audit/types.js';
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import type { BeginOptions, Operation } from '../../src/governance/operation.js';
import { MaskTally, NO_LABELS_SEEN, NO_VALUES_MASKED } from '../../src/policy/tally.js';
import type { CompiledPolicy, Decision, Identity, OperationKind } from '../../src/policy/types.js';
import { ProtocolError } from '../shared/errors.js';
import type { ChunkInbox } from '../shared/slab-reader.js';
import { view } from '../shared/buffer-view.js';
import { writeSpans } from '../shared/write-spans.js';
import { RequestParser, type CommandSink } from './codec/request-parser.js';
import { command as encodeCommand, errorReply, integer, bulk, OK, plain, RESET_REPLY } from './codec/encode.js';
import { decodeFrame, isStringNode, nodeInteger, nodeText } from './codec/decode.js';
import { RespType, mayCarryStrings } from './codec/resp-types.js';
import { extractKeys, lookupCommand, type CommandInfo, type ReplyShape } from './command-table.js';
import { MaxConnectionsError, type UpstreamPool } from './multiplexer.js';
import { PlanCache, classificationName, maskPush, maskReply, type MaskTarget } from './reply-masking.js';
import { Guard, guardCommand, type Derivation, type GuardResult } from './masked-commands.js';
import { scrubText } from '../../src/governance/scrub-text.js';
import { After, Batch, CommandTally, Slot, type SlotOwner } from './slot.js';
import type { DecisionCache } from './decision-cache.js';
import { KeyShapeMemo } from './key-shape.js';
import { recordBatchAtTurnEnd, type BatchRecorder } from './turn-records.js';
import { intendBatchAtTurnEnd, type BatchIntender } from './turn-intents.js';
import { clientWriteAtTurnEnd, type TurnEndWriter } from './turn-end.js';
import type { PushHandler, ServerInfo, UpstreamConnection } from './upstream.js';

/** Listener-wide settings and services a session uses. */
export interface SessionEnv {
  gov: ListenerGovernance;
  /** The policy's decisions by command shape (see decision-cache.ts). */
  decisions: DecisionCache;
  pool: UpstreamPool;
  /** name -> sha256(password); empty map with `trust`. */
  users: Map<string, Buffer>;
  trust: boolean;
  maxMessageBytes: number;
  /** How long a client has to authenticate (AUTH or HELLO ... AUTH) before it is disconnected, in ms. */
  authTimeoutMs: number;
  /** Largest reply bytes held for one client before it is disconnected (default 64 MiB). */
  clientOutputLimit: number;
  /** Most commands in flight per client before its socket stops being read (default 10,000). */
  maxInflight: number;
  defaultDb: number;
  serverInfo(): ServerInfo;
  /** Whether the client leg is TLS (the upstream leg is known from the endpoint). */
  clientTls: boolean;
  upstreamTls: boolean;
}

interface Pending {
  args: Buffer[];
  raw: Buffer[] | null;
}

const SUBSCRIBE = new Set(['subscribe', 'psubscribe', 'ssubscribe']);
const UNSUBSCRIBE = new Set(['unsubscribe', 'punsubscribe', 'sunsubscribe']);
const ALLOWED_SUBSCRIBED = new Set([...SUBSCRIBE, ...UNSUBSCRIBE, 'ping', 'quit', 'reset']);
const MAX_STATEMENT = 512;
/** How long a client cut off for its output limit has to read the error before its socket is destroyed. */
const OVERFLOW_GRACE_MS = 500;
/** Distinct commands named in a batch record's statement. */
const MAX_STATEMENT_OPERATIONS = 16;

let nextClientId = 0;

/**
 * Per-command objects that live until the reply (and the audit record) is done are class instances, not object
 * literals: V8 tracks literal allocation sites (mementos, pretenuring decisions) and that showed in profiles.
 */
class CommandOptions implements BeginOptions {
  constructor(
    readonly identity: Identity,
    readonly role: string,
    readonly operation: string,
    readonly kind: OperationKind,
    readonly objects: readonly string[],
    readonly statement: string,
    readonly labels: readonly string[] | undefined,
    readonly encrypted: boolean,
  ) {}
}

class CommandTarget implements MaskTarget {
  tx?: readonly MaskTarget[];
  derive: Derivation | null = null;
  constructor(
    readonly name: string,
    readonly shape: ReplyShape,
    readonly args: readonly Buffer[],
    readonly keys: readonly Buffer[],
    readonly keyShapes: readonly string[],
  ) {}
}

/** The rule id a refusal by the Redis masking guarantee (masked-commands.ts) is recorded under. */
const GUARD_RULE = 'dgf-lineage';

/** Takes the replies dgf does not forward (MULTI's and QUEUED of a transaction dgf wraps a command in). */
const IGNORED_REPLY = {
  onReplyBytes(): void {},
  onReplyLost(): void {},
};
const MULTI_COMMAND = encodeCommand(['MULTI']);

type Rewrite = Extract<GuardResult, { kind: 'rewrite' }>;

/** failMode open never rejects; a handler anyway, so a broken sink can never crash the process. */
function ignoreAuditError(): void {}

/** Lower-case command names by the spelling clients send ('GET', 'get'), so the hot path does not re-case them. */
const lowerNames = new Map<string, string>();

/** Whether `arg` spells the lower-case ASCII `name`, in any ASCII case. */
function spells(arg: Buffer, name: string): boolean {
  const n = arg.length;
  if (n !== name.length) return false;
  for (let i = 0; i < n; i++) {
    const b = arg[i]!;
    if ((b >= 65 && b <= 90 ? b + 32 : b) !== name.charCodeAt(i)) return false;
  }
  return true;
}

function commandName(arg: Buffer): string {
  const sent = arg.toString('latin1');
  let name = lowerNames.get(sent);
  if (name === undefined) {
    name = sent.toLowerCase();
    // Only spellings of known commands are kept: a client inventing names cannot grow the map.
    if (lowerNames.size < 4096 && lookupCommand(name, undefined)) lowerNames.set(sent, name);
  }
  return name;
}

/** The statement's verb of a command ('GET', 'CLIENT KILL'), computed once per command. */
const statementNames = new Map<CommandInfo, string>();

function statementName(info: CommandInfo): string {
  let s = statementNames.get(info);
  if (s === undefined) {
    s = info.fullName.includes('|') ? info.fullName.replace('|', ' ').toUpperCase() : info.name.toUpperCase();
    statementNames.set(info, s);
  }
  return s;
}

function sha(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

export class RedisSession implements CommandSink, SlotOwner, PushHandler, TurnEndWriter, BatchRecorder, BatchIntender {
  readonly id = ++nextClientId;
  private readonly parser: RequestParser;
  private incoming: Pending[] = [];
  private backlog: Pending[] = [];
  private gated = false;
  /** The name of the last command read (see dispatch). */
  private lastCommand = '';
  /** The clock reading the commands of the dispatch run in progress share (see track); 0 outside one. */
  private dispatchAt = 0;
  private authed: boolean;
  private identity: Identity;
  private role: string;
  private resp: 2 | 3 = 2;
  private shared: UpstreamConnection | null = null;
  private dedicated: UpstreamConnection | null = null;
  /** Replies outstanding on the connection the client is currently on. */
  private inflight = 0;
  private readonly outQueue: Array<Batch | Buffer> = [];
  private closed = false;
  private pausedForInflight = false;
  private pausedForOutput = false;
  private pausedUpstream: UpstreamConnection | null = null;
  private heldBytes = 0;
  // Connection state that needs a dedicated upstream connection.
  private multi = false;
  private txDirty = false;
  private txQueue: MaskTarget[] = [];
  private watching = false;
  private blocked = 0;
  private db: number;
  private tracking = false;
  /** Subscription counts from the last (un)subscribe confirmation, per kind. */
  private subscriptions = { channels: 0, shards: 0 };
  private subscribed = false;
  private monitoring = false;
  private pushParts: Buffer[] = [];
  private drainWaiter: (() => void) | null = null;
  private readonly plans = new PlanCache();
  private readonly keyShapes = new KeyShapeMemo();
  queuedForTurnEnd = false;
  private torn = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly env: SessionEnv,
    reads: ChunkInbox | null = null,
  ) {
    // Redis' pre-authentication limits (few, short arguments) until AUTH/HELLO succeeds.
    this.parser = new RequestParser(env.maxMessageBytes, () => this.authed);
    this.authed = env.trust;
    this.identity = { user: 'default', address: socket.remoteAddress ?? undefined, database: String(env.defaultDb) };
    this.role = env.gov.roleOf(this.identity);
    this.db = env.defaultDb;
    env.gov.clientOpened();
    if (!this.authed) {
      // A client that connects and never authenticates holds a socket and a session: bounded in time.
      this.authTimer = setTimeout(this.onAuthTimeout, env.authTimeoutMs);
      this.authTimer.unref();
    }
    if (reads) reads.deliver = (chunk: Buffer) => this.onData(chunk);
    else socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onClientDrain());
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
  }

  // ---- input ------------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.parser.push(chunk, this);
    } catch (err) {
      this.process();
      const msg = err instanceof ProtocolError ? err.message : 'Protocol error';
      this.fatal(msg.startsWith('Protocol error') ? `ERR ${msg}` : `ERR Protocol error: ${msg}`);
      return;
    }
    this.process();
  }

  onCommand(args: Buffer[], raw: Buffer[] | null): void {
    this.incoming.push({ args, raw });
  }

  /** Dispatch what was read (or was waiting behind a barrier) as one batch. */
  private process(): void {
    if (this.incoming.length === 0 && (this.gated || this.backlog.length === 0)) return;
    let list: Pending[];
    if (this.gated) {
      for (const p of this.incoming) this.backlog.push(p);
      this.incoming = [];
      if (this.backlog.length > 1000 && !this.socket.isPaused()) this.socket.pause();
      return;
    }
    if (this.backlog.length > 0) {
      list = this.backlog.concat(this.incoming);
      this.backlog = [];
    } else {
      list = this.incoming;
    }
    this.incoming = [];
    this.dispatchAt = performance.now();
    const batch = new Batch(this.env.gov.policy(), this.dispatchAt);
    batch.single = list.length === 1;
    this.outQueue.push(batch);
    let i = 0;
    try {
      for (; i < list.length && !this.closed; i++) {
        const p = list[i]!;
        if (!this.dispatch(p.args, p.raw, batch)) break;
      }
    } finally {
      this.dispatchAt = 0;
    }
    // The command that hit a barrier put itself back in the backlog; the rest follow it.
    if (i < list.length && !this.closed) {
      for (let j = i + 1; j < list.length; j++) this.backlog.push(list[j]!);
    }
    batch.sealed = true;
    if (this.env.gov.audit.failMode === 'closed' && batch.slots.some(isForwardedAudited)) {
      // Write-ahead: the batch's commands leave at the turn's end, after their intent record is kept.
      batch.intentIdentity = this.identity;
      batch.intentRole = this.role;
      intendBatchAtTurnEnd(this, batch);
    }
    this.maybeComplete(batch);
    if (this.inflight > this.env.maxInflight && !this.socket.isPaused()) {
      this.pausedForInflight = true;
      this.socket.pause();
    }
  }

  /** Handle one command; false when a barrier closed and the rest must wait. */
  private dispatch(args: Buffer[], raw: Buffer[] | null, batch: Batch): boolean {
    // A client mostly repeats its last command (a pipeline of GETs): comparing bytes skips decoding the name.
    const name = spells(args[0]!, this.lastCommand) ? this.lastCommand : (this.lastCommand = commandName(args[0]!));
    if (!this.authed) {
      if (name === 'auth') return this.local(batch, this.auth(args));
      if (name === 'hello') return this.local(batch, this.hello(args));
      if (name === 'quit') return this.quit(batch);
      return this.local(batch, errorReply('NOAUTH Authentication required.'));
    }
    if (this.subscribed && this.resp === 2 && !ALLOWED_SUBSCRIBED.has(name)) {
      return this.local(
        batch,
        errorReply(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`),
      );
    }
    if (UNSUBSCRIBE.has(name) && !this.subscribed) {
      // Nothing to leave: answer as Redis does, without taking a dedicated connection.
      const head = this.resp === 3 ? '>3' : '*3';
      return this.local(batch, Buffer.from(`${head}\r\n$${name.length}\r\n${name}\r\n${this.resp === 3 ? '_' : '$-1'}\r\n:0\r\n`));
    }
    switch (name) {
      case 'auth':
        return this.local(batch, this.auth(args));
      case 'hello':
        if (args.length > 1 && !this.canSwitch()) {
          return this.local(batch, errorReply('ERR dgf: HELLO cannot change the protocol while a transaction, subscription or blocking command holds the connection'));
        }
        return this.local(batch, this.hello(args));
      case 'quit':
        return this.quit(batch);
      case 'reset':
        return this.reset(batch);
      case 'client':
        if (this.clientLocal(args, batch)) return true;
        break;
      case 'select':
        if (!this.dedicated && !this.multi && args.length === 2 && Number(args[1]!.toString('latin1')) === this.env.defaultDb) {
          return this.local(batch, OK);
        }
        break;
      case 'monitor':
        if (batch.policy.masksAnyFor(this.role)) {
          return this.local(batch, errorReply("NOPERM dgf: MONITOR shows every client's commands with their values; refused for a role that sees masked data"));
        }
        break;
    }
    const info = lookupCommand(name, args[1]);
    const policy = batch.policy;
    if (!info) return this.unknown(name, args, raw, batch);
    if ((info.spec.arity > 0 && args.length !== info.spec.arity) || (info.spec.arity < 0 && args.length < -info.spec.arity)) {
      const what = info.fullName.includes('|') ? info.fullName : info.name;
      // Inside MULTI a command that fails when queued aborts the transaction at EXEC, as Redis does.
      if (this.multi) this.txDirty = true;
      return this.local(batch, errorReply(`ERR wrong number of arguments for '${what}' command`));
    }
    const keyBufs = extractKeys(info.spec, args);
    const objects = keyBufs.map((k) => k.toString('latin1'));
    const shapes = this.keyShapes.shapes(keyBufs, objects);
    const statement = this.statementOf(info, args, objects);
    let labels: string[] | undefined;
    for (const shape of shapes) {
      const l = policy.labelsForName(shape);
      if (l.length > 0) (labels ??= []).push(...l);
    }
    const options = new CommandOptions(this.identity, this.role, info.name, info.spec.kind, objects, statement, labels, this.env.clientTls && this.env.upstreamTls);
    let slot: Slot;
    let decision: Decision;
    if (batch.single) {
      const op = this.env.decisions.begin(options, shapes);
      slot = new Slot(this, batch, info, op, statement, objects);
      decision = op.decision;
    } else {
      // One of several commands read together: an entry of the batch's record, no Operation of its own.
      decision = this.env.decisions.decide(options, shapes);
      slot = new Slot(this, batch, info, null, statement, objects);
      slot.tally = new CommandTally(info.name, info.spec.kind, decision, labels);
    }
    // NAME + ' ' + key exactly (a subcommand, channel or truncation would make it longer or marked): as an entry of
    // a batch record, the command leaves its statement out.
    slot.plainStatement = objects.length === 1 && statement.length === info.name.length + 1 + objects[0]!.length && statement.length <= MAX_STATEMENT;
    if (decision.action === 'deny') {
      if (this.multi) this.txDirty = true;
      return this.local(batch, errorReply(`NOPERM ${decision.message ?? 'command refused by policy'}`), slot, decision.message ?? 'denied');
    }
    if (info.denyOom && !this.env.gov.quota.checkWrite().ok) {
      if (this.multi) this.txDirty = true;
      const msg = 'OOM command not allowed when used memory > quota';
      return this.local(batch, errorReply(msg), slot, msg);
    }
    let rewrite: Rewrite | null = null;
    if (info.guard !== Guard.None && policy.masksAnyFor(this.role)) {
      // The masking guarantee (masked-commands.ts): refused, answered, or sent as another command whose reply dgf
      // masks and turns into this one's.
      const g = guardCommand(info.guard, info.fullName, args, objects, {
        policy,
        role: this.role,
        plans: this.plans,
        inTransaction: this.multi || this.watching,
      });
      if (g !== null) {
        if (g.kind === 'rewrite') {
          rewrite = g;
        } else {
          if (this.multi) this.txDirty = true;
          if (g.kind === 'reply') return this.local(batch, g.reply, slot);
          if (slot.op) slot.op.denyBy(GUARD_RULE, g.message);
          else if (slot.tally) {
            const d = slot.tally.decision;
            slot.tally.decision = { ...d, action: 'deny', ruleId: GUARD_RULE, message: g.message, rules: [...d.rules, GUARD_RULE] };
          }
          return this.local(batch, errorReply(`NOPERM ${g.message}`), slot, g.message);
        }
      }
    }
    return this.forward(name, info, args, keyBufs, shapes, raw, batch, slot, policy, rewrite);
  }

  private unknown(name: string, args: Buffer[], raw: Buffer[] | null, batch: Batch): boolean {
    const statement = name.toUpperCase();
    const op = this.env.gov.begin({ identity: this.identity, role: this.role, operation: name, kind: 'other', objects: [], statement });
    const slot = new Slot(this, batch, null, op, statement, []);
    if (op.denied || batch.policy.masksAnyFor(this.role)) {
      if (this.multi) this.txDirty = true;
    }
    if (op.denied) return this.local(batch, errorReply(`NOPERM ${op.decision.message ?? 'command refused by policy'}`), slot, 'denied');
    // Fail closed: a command whose keys and reply we cannot read is never run for a role whose values are masked.
    if (batch.policy.masksAnyFor(this.role)) {
      const msg = `ERR unknown command '${name.slice(0, 64)}' (dgf refuses commands it cannot govern for masked roles)`;
      return this.local(batch, errorReply(msg), slot, 'unknown command');
    }
    return this.forward(name, null, args, [], [], raw, batch, slot, batch.policy);
  }

  private statementOf(info: CommandInfo, args: Buffer[], keys: string[]): string {
    let s = statementName(info);
    if (info.name === 'subscribe' || info.name === 'psubscribe' || info.name === 'ssubscribe' || info.name === 'publish') {
      // Channel names say what flows, like key names; message payloads never enter the trail.
      const channels = info.name === 'publish' ? args.slice(1, 2) : args.slice(1);
      for (const c of channels) s += ' ' + c.toString('latin1');
    }
    for (const k of keys) {
      if (s.length > MAX_STATEMENT) return s.slice(0, MAX_STATEMENT) + '...';
      s += ' ' + k;
    }
    return s.length > MAX_STATEMENT ? s.slice(0, MAX_STATEMENT) + '...' : s;
  }

  // ---- routing ----------------------------------------------------------------------------------------------

  private forward(
    name: string,
    info: CommandInfo | null,
    args: Buffer[],
    keys: Buffer[],
    keyShapes: readonly string[],
    raw: Buffer[] | null,
    batch: Batch,
    slot: Slot,
    policy: CompiledPolicy,
    rewrite: Rewrite | null = null,
  ): boolean {
    const needsDedicated = this.needsDedicated(name, info, args);
    const conn = this.connection(needsDedicated);
    if (!conn) {
      // A barrier: this command is re-read from the backlog once the connection is ready.
      this.backlogFront(args, raw);
      return false;
    }
    let target: CommandTarget;
    let data: Buffer | Buffer[];
    if (rewrite === null) {
      data = raw ?? encodeCommand(args);
      target = new CommandTarget(name, info?.spec.reply ?? 'values', args, keys, keyShapes);
    } else {
      const sent = rewrite.args ?? args;
      data = rewrite.args === null ? (raw ?? encodeCommand(args)) : encodeCommand(sent);
      target = new CommandTarget(name, rewrite.shape, sent, keys, keyShapes);
      target.derive = rewrite.derive;
      if (rewrite.tx) target.tx = rewrite.tx;
    }
    slot.target = target;
    slot.dedicated = conn === this.dedicated;
    slot.inspect = this.needsInspection(target, policy);
    // State transitions, applied when the command is sent (replies come back in the same order).
    let hasReply = true;
    if (name === 'multi') {
      this.multi = true;
      this.txDirty = false;
      this.txQueue = [];
    } else if (this.multi && name !== 'exec' && name !== 'discard' && name !== 'watch') {
      this.txQueue.push(target);
      slot.inspect = false; // +QUEUED; the values come with EXEC
    } else if (name === 'exec') {
      target.tx = this.txQueue;
      slot.inspect = this.txQueue.some((t) => this.needsInspection(t, policy));
      if (this.txDirty) {
        // A queued command was refused: abort like Redis does when queueing fails.
        slot.replaceWith = errorReply('EXECABORT Transaction discarded because of previous errors.');
        slot.inspect = false;
        conn.send(encodeCommand(['DISCARD']), this.track(slot));
        this.endTransaction();
        batch.slots.push(slot);
        return true;
      }
      this.endTransaction();
    } else if (name === 'discard') {
      this.endTransaction();
    } else if (name === 'watch') {
      this.watching = true;
    } else if (name === 'unwatch') {
      this.watching = false;
    } else if (name === 'select') {
      this.db = Number(args[1]!.toString('latin1'));
      this.identity = { ...this.identity, database: String(this.db) };
      slot.after = After.SelectDone;
    } else if (SUBSCRIBE.has(name)) {
      this.enterSubscribed(conn);
      hasReply = false;
    } else if (UNSUBSCRIBE.has(name)) {
      hasReply = !(this.subscribed || this.resp === 3);
    } else if (name === 'monitor') {
      this.monitoring = true;
      conn.pushHandler = this;
      conn.pipeAll = true;
      hasReply = false;
    } else if (name === 'client' && args.length >= 3 && args[1]!.toString('latin1').toLowerCase() === 'tracking') {
      this.tracking = args[2]!.toString('latin1').toLowerCase() === 'on';
    } else if (info?.blocking && needsDedicated) {
      this.blocked++;
      slot.after = After.BlockingDone;
    }
    if (this.subscribed && this.resp === 2) hasReply = false;
    batch.slots.push(slot);
    if (!hasReply) {
      conn.send(data, null);
      slot.done = true;
      slot.rows = 0;
      return true;
    }
    if (rewrite?.queued) {
      // A transaction of dgf's own (masked-commands.ts): only EXEC's reply goes to the client's slot.
      conn.send(MULTI_COMMAND, IGNORED_REPLY);
      for (const q of rewrite.queued) conn.send(encodeCommand(q), IGNORED_REPLY);
    }
    conn.send(data, this.track(slot));
    return true;
  }

  private track(slot: Slot): Slot {
    slot.batch.waiting++;
    // The commands dispatched in one run leave in the same upstream write: one clock read for all of them.
    slot.sentAt = this.dispatchAt || performance.now();
    this.inflight++;
    return slot;
  }

  private endTransaction(): void {
    this.multi = false;
    this.watching = false;
    this.txDirty = false;
    this.txQueue = [];
  }

  private needsDedicated(name: string, info: CommandInfo | null, args: Buffer[]): boolean {
    if (this.dedicated) return true;
    switch (name) {
      case 'multi':
      case 'watch':
      case 'monitor':
        return true;
      case 'select':
        return Number(args[1]?.toString('latin1')) !== this.env.defaultDb;
      case 'client':
        return args[1]?.toString('latin1').toLowerCase() === 'tracking' && args[2]?.toString('latin1').toLowerCase() === 'on';
      case 'xread':
      case 'xreadgroup':
        return args.some((a, i) => i > 0 && a.length === 5 && a.toString('latin1').toLowerCase() === 'block');
    }
    if (SUBSCRIBE.has(name)) return true;
    return info?.blocking === true;
  }

  /** The connection to send on now, or null when the client must first wait (drain or pool). */
  private connection(needsDedicated: boolean): UpstreamConnection | null {
    if (this.dedicated) {
      if (!this.dedicated.closed) return this.dedicated;
      this.dedicated = null;
    }
    if (!needsDedicated) {
      if (this.shared && !this.shared.closed && this.shared.resp === this.resp) return this.shared;
      if (this.inflight > 0) return this.barrier(() => undefined);
      const conn = this.env.pool.sharedFor(this.resp);
      if (conn) return (this.shared = conn);
      return this.barrier(() => this.env.pool.waitShared(this.resp).then((c) => void (this.shared = c)));
    }
    if (this.inflight > 0) return this.barrier(() => undefined);
    const got = this.env.pool.acquireDedicated(this.resp);
    if (!(got instanceof Promise)) return this.takeDedicated(got);
    return this.barrier(() => got.then((c) => void this.takeDedicated(c)));
  }

  private takeDedicated(conn: UpstreamConnection): UpstreamConnection {
    if (this.closed) {
      this.env.pool.release(conn, true);
      return conn;
    }
    this.dedicated = conn;
    conn.pushHandler = this;
    return conn;
  }

  /**
   * Close the gate: wait until every reply outstanding on the current connection arrived, then run `then`
   * (e.g. wait for the pool), then dispatch the backlog.
   */
  private barrier(then: () => Promise<void> | void): null {
    this.gated = true;
    const open = (): void => {
      let p: Promise<void> | void;
      try {
        p = then();
      } catch (err) {
        p = Promise.reject(err as Error);
      }
      Promise.resolve(p).then(
        () => {
          this.gated = false;
          this.process();
          this.resumeIfPaused();
        },
        (err: Error) => {
          this.gated = false;
          const msg = err instanceof MaxConnectionsError ? `ERR ${err.message}` : `ERR dgf: ${err.message}`;
          // Every waiting command gets the error, in order.
          const waiting = this.backlog;
          this.backlog = [];
          const batch = new Batch(this.env.gov.policy(), performance.now());
          this.outQueue.push(batch);
          for (let k = 0; k < waiting.length; k++) batch.slots.push(new Slot(this, batch, null, null, null, []).local(errorReply(msg)));
          batch.sealed = true;
          this.maybeComplete(batch);
          this.resumeIfPaused();
        },
      );
    };
    if (this.inflight === 0) queueMicrotask(open);
    else this.drainWaiter = open;
    return null;
  }

  private backlogFront(args: Buffer[], raw: Buffer[] | null): void {
    this.backlog.unshift({ args, raw });
  }

  private canSwitch(): boolean {
    return !this.dedicated;
  }

  private enterSubscribed(conn: UpstreamConnection): void {
    if (!this.subscribed) this.subscriptions = { channels: 0, shards: 0 };
    this.subscribed = true;
    conn.pushHandler = this;
    if (this.resp === 2) conn.pipeAll = true;
  }

  /** Give the dedicated connection back once nothing needs it. */
  private maybeRelease(): void {
    const d = this.dedicated;
    if (!d || d.pending > 0 || this.inflight > 0) return;
    if (this.multi || this.watching || this.blocked > 0 || this.subscribed || this.monitoring || this.tracking) return;
    if (this.db !== this.env.defaultDb) return;
    this.dedicated = null;
    this.env.pool.release(d, true);
  }

  // ---- local commands ---------------------------------------------------------------------------------------

  private local(batch: Batch, reply: Buffer, slot?: Slot, error?: string): boolean {
    const s = slot ?? new Slot(this, batch, null, null, null, []);
    s.local(reply, error ?? (reply[0] === RespType.SimpleError ? reply.toString('utf8', 1, Math.min(reply.length - 2, 200)) : null));
    s.rows = 0;
    batch.slots.push(s);
    return true;
  }

  private checkPassword(user: string, password: Buffer): boolean {
    if (this.env.trust) return true;
    const want = this.env.users.get(user);
    if (!want) return false;
    return timingSafeEqual(want, sha(password));
  }

  private authTimer: NodeJS.Timeout | null = null;

  private readonly onAuthTimeout = (): void => {
    this.authTimer = null;
    if (!this.authed) this.fatal('ERR dgf: authentication timeout (AUTH or HELLO ... AUTH must come first)');
  };

  private login(user: string): void {
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    this.authed = true;
    this.identity = { ...this.identity, user };
    this.role = this.env.gov.roleOf(this.identity);
  }

  private auth(args: Buffer[]): Buffer {
    if (args.length !== 2 && args.length !== 3) return errorReply("ERR wrong number of arguments for 'auth' command");
    const user = args.length === 3 ? args[1]!.toString('utf8') : 'default';
    const pw = args[args.length - 1]!;
    if (!this.checkPassword(user, pw)) return errorReply('WRONGPASS invalid username-password pair or user is disabled.');
    this.login(user);
    return OK;
  }

  private hello(args: Buffer[]): Buffer {
    let version = this.resp;
    let i = 1;
    if (args.length > 1) {
      const v = Number(args[1]!.toString('latin1'));
      if (v !== 2 && v !== 3) return errorReply('NOPROTO unsupported protocol version');
      version = v;
      i = 2;
    }
    let name: string | null = null;
    let loggedIn = false;
    for (; i < args.length; i++) {
      const opt = args[i]!.toString('latin1').toLowerCase();
      if (opt === 'auth' && i + 2 < args.length) {
        const user = args[i + 1]!.toString('utf8');
        if (!this.checkPassword(user, args[i + 2]!)) return errorReply('WRONGPASS invalid username-password pair or user is disabled.');
        this.login(user);
        loggedIn = true;
        i += 2;
      } else if (opt === 'setname' && i + 1 < args.length) {
        name = args[++i]!.toString('utf8');
      } else {
        return errorReply(`ERR Syntax error in HELLO option '${opt}'`);
      }
    }
    if (!this.authed) return errorReply('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    if (name !== null) this.setName(name, loggedIn);
    this.resp = version;
    const info = this.env.serverInfo();
    return Buffer.from(
      plain(
        { server: 'redis', version: info.version, proto: version, id: this.id, mode: info.mode, role: info.role, modules: [] },
        version === 3,
      ),
    );
  }

  /**
   * The connection's name is the identity's application (audit records show it). It picks the role only at login
   * (HELLO ... AUTH ... SETNAME): a client cannot re-map its live connection's role by renaming it later.
   */
  private setName(name: string, atLogin: boolean): void {
    this.identity = { ...this.identity, application: name };
    if (atLogin) this.role = this.env.gov.roleOf(this.identity);
  }

  /** CLIENT subcommands answered for the client's own (virtual) connection. */
  private clientLocal(args: Buffer[], batch: Batch): boolean {
    const sub = args[1]?.toString('latin1').toLowerCase();
    switch (sub) {
      case 'setname':
        if (args.length !== 3) return false;
        this.setName(args[2]!.toString('utf8'), false);
        return this.local(batch, OK);
      case 'getname':
        return this.local(batch, bulk(this.identity.application ?? null, this.resp === 3));
      case 'id':
        return this.local(batch, integer(this.id));
      case 'setinfo':
      case 'no-evict':
      case 'no-touch':
        return this.local(batch, OK);
      case 'reply':
        return this.local(batch, errorReply('ERR dgf: CLIENT REPLY is not supported through the proxy'));
      default:
        return false;
    }
  }

  private quit(batch: Batch): boolean {
    this.local(batch, OK);
    batch.closeAfter = true;
    this.closed = true;
    this.socket.pause();
    return false;
  }

  private reset(batch: Batch): boolean {
    const d = this.dedicated;
    if (d) {
      this.dedicated = null;
      // Its state (transaction, subscriptions, blocked command) is unknown to the pool: close it.
      d.pushHandler = null;
      this.env.pool.release(d, false);
    }
    this.endTransaction();
    this.blocked = 0;
    this.subscribed = false;
    this.monitoring = false;
    this.tracking = false;
    this.db = this.env.defaultDb;
    this.resp = 2;
    this.identity = { ...this.identity, application: undefined, database: String(this.db) };
    this.role = this.env.gov.roleOf(this.identity);
    return this.local(batch, RESET_REPLY);
  }

  // ---- replies ----------------------------------------------------------------------------------------------

  /** Whether this command's reply must be decoded for this role (else it is forwarded as its bytes). */
  private needsInspection(t: MaskTarget, policy: CompiledPolicy): boolean {
    if (t.shape === 'none' || t.shape === 'keys') return false;
    // A reply dgf computes (masked-commands.ts) is always read.
    if (t.derive || t.shape === 'int-value') return true;
    if (policy.scansValuesFor(this.role)) return true;
    switch (t.shape) {
      case 'values':
      case 'per-key':
      case 'zset':
      case 'zset-scan':
      case 'set-scan':
        // Names alone decide: decode only when a key's plan masks.
        for (let i = 0; i < t.keys.length; i++) {
          const shape = t.keyShapes?.[i] ?? classificationName(t.keys[i]!.toString('latin1'));
          if (this.plans.get(policy, this.role, shape).mode !== 'clear') return true;
        }
        return false;
      case 'exec':
        return (t.tx ?? []).some((q) => this.needsInspection(q, policy));
      default:
        // Field names, key elements and sort patterns are only known from the reply or arguments.
        return true;
    }
  }

  slotReplyBytes(slot: Slot, chunk: Buffer, start: number, end: number): void {
    // Most replies come in one piece: a one-element array, where pushing into the empty one reserves 16 slots.
    if (slot.parts.length === 0) slot.parts = [view(chunk, start, end)];
    else slot.parts.push(view(chunk, start, end));
    slot.size += end - start;
    this.heldBytes += end - start;
    // Replies are held whole (and a pipeline's until its record is kept): past the limit the client gets a clear
    // error and is disconnected, never an out-of-memory for everyone.
    if (this.heldBytes > this.env.clientOutputLimit) this.outputOverflow();
  }

  slotDone(slot: Slot): void {
    if (slot.sentAt > 0) {
      // A lost reply has no arrival time of its own.
      if (slot.upstreamMs <= 0) slot.upstreamMs = performance.now() - slot.sentAt;
      this.inflight--;
      slot.batch.waiting--;
    }
    // Masking runs for every reply that may still be written, even after QUIT or a protocol error.
    if (!this.torn) this.finishSlot(slot);
    if (slot.after === After.BlockingDone) this.blocked = Math.max(0, this.blocked - 1);
    if (this.inflight === 0 && this.drainWaiter) {
      const w = this.drainWaiter;
      this.drainWaiter = null;
      w();
    }
    this.maybeRelease();
    if (this.pausedForInflight && this.inflight < this.env.maxInflight / 2) {
      this.pausedForInflight = false;
      this.resumeIfPaused();
    }
    this.maybeComplete(slot.batch);
  }

  /** Rows, error text and masking for one completed reply. */
  private finishSlot(slot: Slot): void {
    if (slot.replaceWith) {
      this.heldBytes -= slot.size;
      slot.parts = [slot.replaceWith];
      slot.size = slot.replaceWith.length;
      slot.rows = 0;
      return;
    }
    const first = slot.parts[0];
    if (!first) return;
    let frame: Buffer | null = null;
    const type = first[0]!;
    if (type === RespType.SimpleError || type === RespType.BulkError) {
      frame = slot.parts.length === 1 ? first : Buffer.concat(slot.parts);
      frame = this.scrubError(slot, frame);
      slot.error = frame.toString('utf8', 1, Math.min(frame.length, 200)).replace(/\r\n.*$/s, '').trim();
      slot.rows = 0;
      return;
    }
    slot.rows = rowsOf(slot.parts);
    if (!slot.inspect || !slot.target) return;
    if (!mayCarryStrings(type) && !slot.target.derive && slot.target.shape !== 'int-value') return;
    frame = slot.parts.length === 1 ? first : Buffer.concat(slot.parts, slot.size);
    try {
      const masked = maskReply(
        frame,
        slot.target,
        { policy: slot.batch.policy, role: this.role, stats: slot.op ?? slot.tally ?? undefined, plans: this.plans },
        this.resp === 3,
      );
      if (masked !== frame || slot.parts.length > 1) {
        this.heldBytes += masked.length - slot.size;
        slot.parts = [masked];
        slot.size = masked.length;
      }
    } catch (err) {
      // Fail closed: a reply that cannot be read is not forwarded to a role that must be masked.
      this.env.gov.logger.error({ err: (err as Error).message }, 'redis reply could not be masked');
      const e = errorReply('ERR dgf: reply could not be masked');
      this.heldBytes += e.length - slot.size;
      slot.parts = [e];
      slot.size = e.length;
      slot.error = 'reply could not be masked';
    }
  }

  /**
   * An error reply for a role whose values are masked, with every entity the value detectors find masked (Redis'
   * own errors quote no values, but a module's or a script's may).
   */
  private scrubError(slot: Slot, frame: Buffer): Buffer {
    const policy = slot.batch.policy;
    if (!policy.scansValuesFor(this.role)) return frame;
    const type = frame[0]!;
    const text = type === RespType.SimpleError ? frame.toString('utf8', 1, frame.length - 2) : frame.toString('utf8', frame.indexOf(13) + 2, frame.length - 2);
    const clean = scrubText(text, policy, this.role, slot.op ?? slot.tally ?? undefined);
    if (clean === text) return frame;
    const out = errorReply(clean);
    this.heldBytes += out.length - slot.size;
    slot.parts = [out];
    slot.size = out.length;
    return out;
  }

  private maybeComplete(batch: Batch): void {
    if (!batch.sealed || batch.waiting > 0 || batch.ready || batch.written || batch.identity !== null) return;
    for (const s of batch.slots) if (!s.done) return;
    if (!batch.slots.some(isAudited)) {
      batch.ready = true;
      this.flushOut();
      return;
    }
    // Recorded at the end of the turn, with the batches of other clients of the same subject (turn-records.ts).
    batch.identity = this.identity;
    batch.role = this.role;
    recordBatchAtTurnEnd(this, batch);
  }

  get recordScope(): object {
    return this.env;
  }

  /**
   * The intent record of `batches` (write-ahead): the lone command's own record, or one record whose entries are
   * the batches' audited commands (decided, not yet run: no rows).
   */
  intendBatches(owners: readonly BatchIntender[], batches: readonly Batch[]): Promise<void> | null {
    const governed = governedSlotsOf(batches);
    const lone = governed.length === 1 ? governed[0]! : null;
    if (lone !== null && lone.op !== null) {
      batches[0]!.intent = lone.op;
      return lone.op.intent();
    }
    const { entries, operations, kind } = commandEntries(governed, false);
    const clients = batches.length === 1 ? 1 : new Set(owners).size;
    const first = batches[0]!;
    const record = this.pipelineRecord(first.intentIdentity!, first.intentRole, kind, governed.length, clients, operations, []);
    for (let i = 0; i < batches.length; i++) batches[i]!.intent = record;
    return record.intent(entries);
  }

  intentsAppended(): void {
    this.env.gov.audit.appendedAtTurnEnd();
  }

  /** The record of `batches` (this session's first; the others' owners share its listener and subject). */
  recordBatches(owners: readonly BatchRecorder[], batches: readonly Batch[]): void {
    const governed = governedSlotsOf(batches);
    // A lone command with an Operation of its own keeps its own record (every queued batch holds an audited slot).
    const lone = governed.length === 1 ? governed[0]! : null;
    // Write-ahead: the outcome names the intent the batches went upstream under (grouping keeps it one); batches
    // dgf answered itself had none and are recorded once.
    const intent = batches[0]!.intent;
    let done: Promise<void>;
    if (lone !== null && lone.op !== null) {
      if (intent === null) lone.op.settleLocally();
      else if (intent !== lone.op) lone.op.continues(intent);
      done = lone.op.finish({ rows: lone.rows, error: lone.error, upstreamMs: lone.upstreamMs });
    } else {
      done = this.finishBatch(governed, batches, batches.length === 1 ? 1 : new Set(owners).size, intent);
    }
    // Nothing waits for an outcome: the replies go out at the turn's end (no reply is held back for the audit).
    if (done !== QUEUED) done.catch(ignoreAuditError);
    for (let i = 0; i < batches.length; i++) owners[i]!.recordKept(batches[i]!, null);
  }

  recordsAppended(): void {
    this.env.gov.audit.appendedAtTurnEnd();
  }

  /** The batch's record is kept (or, `err`, could not be kept: every governed result is withheld); write it. */
  recordKept(batch: Batch, err: Error | null): void {
    if (err !== null) {
      const e = errorReply(`ERR dgf: audit unavailable, result withheld (${err.message})`);
      for (const s of governedSlotsOf([batch])) {
        this.heldBytes -= s.size;
        s.parts = [e];
        s.size = e.length;
        this.heldBytes += e.length;
      }
    }
    batch.ready = true;
    clientWriteAtTurnEnd(this);
  }

  /**
   * The Operation that records a group of batches as one `pipeline` record. Its own decision is not used (each
   * command was decided on its own), so its keys are not handed to the policy again: they are in the statement and
   * in the entries.
   */
  private pipelineRecord(identity: Identity, role: string, kind: BatchKind, commands: number, clients: number, operations: readonly string[], labels: string[]): Operation {
    const from = clients > 1 ? ` FROM ${clients} CLIENTS` : '';
    return this.env.decisions.begin(
      {
        identity,
        role,
        operation: 'pipeline',
        kind,
        objects: [],
        labels,
        statement: `PIPELINE ${commands}${from}: ${operations.join(' ').toUpperCase()}`.slice(0, MAX_STATEMENT),
        encrypted: this.env.clientTls && this.env.upstreamTls,
      },
      [],
    );
  }

  /** One audit record for a pipeline batch, with one entry per command. */
  private finishBatch(governed: Slot[], batches: readonly Batch[], clients: number, intent: IntentSlot | null): Promise<void> {
    const now = performance.now();
    const entryMs: number[] = new Array<number>(governed.length);
    const entryUpstreamMs: number[] = new Array<number>(governed.length);
    let startedAt = now;
    for (let i = 0; i < batches.length; i++) if (batches[i]!.startedAt < startedAt) startedAt = batches[i]!.startedAt;
    const { entries, operations, kind, all } = commandEntries(governed, true);
    let rows = 0;
    let upstreamMs = 0;
    for (let i = 0; i < governed.length; i++) {
      const s = governed[i]!;
      rows += s.rows ?? 0;
      if (s.upstreamMs > upstreamMs) upstreamMs = s.upstreamMs;
      entryMs[i] = now - s.batch.startedAt;
      entryUpstreamMs[i] = s.upstreamMs;
    }
    const first = batches[0]!;
    const record = this.pipelineRecord(first.identity!, first.role, kind, governed.length, clients, operations, all ? all.seenLabels() : []);
    if (all) record.add(all);
    if (intent !== null) record.continues(intent);
    else record.settleLocally();
    return record.finish({ rows, entries, upstreamMs, entryMs, entryUpstreamMs, startedAt });
  }

  /** Replies completed during the turn are written at its end, after the upstream writes (turn-end.ts). */
  writeAtTurnEnd(): void {
    this.flushOut();
  }

  /** Write every ready batch (and pushes queued behind them) in order, as one write when small. */
  private flushOut(): void {
    if (this.socket.destroyed) return;
    const out: Buffer[] = [];
    let bytes = 0;
    let close = false;
    while (this.outQueue.length > 0) {
      const head = this.outQueue[0]!;
      if (!(head instanceof Batch)) {
        out.push(head);
        bytes += head.length;
        this.outQueue.shift();
        continue;
      }
      if (!head.ready) break;
      for (const s of head.slots) {
        for (const p of s.parts) {
          out.push(p);
          bytes += p.length;
        }
        this.heldBytes -= s.size;
        s.parts = [];
      }
      head.written = true;
      this.outQueue.shift();
      if (head.closeAfter) {
        close = true;
        break;
      }
    }
    writeSpans(this.socket, out, bytes, 64 * 1024);
    if (close) {
      // end() flushes the final reply before the FIN; 'close' tears the session down, a timer if it never comes.
      this.socket.end();
      setTimeout(() => this.teardown(), 2000).unref();
      return;
    }
    this.applyOutputBackpressure();
  }

  /** When the client does not read: stop reading its commands, and stop reading a dedicated upstream for it. */
  private applyOutputBackpressure(): void {
    if (!this.socket.writableNeedDrain) return;
    if (!this.pausedForOutput) {
      this.pausedForOutput = true;
      this.socket.pause();
    }
    if (this.dedicated && !this.pausedUpstream) {
      this.pausedUpstream = this.dedicated;
      this.dedicated.socket.pause();
    }
    // A dedicated connection is paused above, so what waits for this client is bounded by what was in flight. A
    // shared one cannot pause for one client: past the limit the client gets an error (after the replies it
    // already has) and is disconnected, as Redis does with client-output-buffer-limit.
    if (!this.dedicated && this.socket.writableLength > this.env.clientOutputLimit) this.outputOverflow();
  }

  private outputOverflow(): void {
    if (this.closed) return;
    const limit = this.env.clientOutputLimit;
    this.env.gov.logger.warn(
      { client: this.id, queued: this.socket.writableLength, held: this.heldBytes, limit },
      'redis client output limit (clientOutputLimitBytes) exceeded: error and disconnect',
    );
    // Replies not yet written are dropped (the client is cut off anyway): memory is freed at once, and only the
    // error follows what the client already has.
    for (const item of this.outQueue) {
      if (!(item instanceof Batch) || item.written) continue;
      for (const sl of item.slots) {
        if (!sl.done) sl.discard = true;
        this.heldBytes -= sl.size;
        sl.parts = [];
        sl.size = 0;
      }
    }
    // Like fatal(), but without the FIN: a client that stopped reading never sees a FIN behind unread bytes, so
    // after a moment to read the error (not fatal()'s 5 s) it gets a reset, which it sees at once.
    this.closed = true;
    this.socket.pause();
    const batch = new Batch(this.env.gov.policy(), performance.now());
    batch.slots.push(
      new Slot(this, batch, null, null, null, []).local(
        errorReply(`ERR dgf: client output buffer limit exceeded (${limit} bytes, listener option clientOutputLimitBytes): more replies are waiting for this client than it reads`),
      ),
    );
    batch.sealed = true;
    this.outQueue.push(batch);
    this.maybeComplete(batch);
    setTimeout(() => {
      if (!this.socket.destroyed) this.socket.resetAndDestroy();
      this.teardown();
    }, OVERFLOW_GRACE_MS).unref();
  }

  private onClientDrain(): void {
    if (this.pausedUpstream) {
      this.pausedUpstream.socket.resume();
      this.pausedUpstream = null;
    }
    if (this.pausedForOutput) {
      this.pausedForOutput = false;
      this.resumeIfPaused();
    }
  }

  private resumeIfPaused(): void {
    if (this.closed || this.gated || this.pausedForOutput || this.pausedForInflight) return;
    if (this.socket.isPaused()) this.socket.resume();
  }

  // ---- pushes (pub/sub, tracking, MONITOR) --------------------------------------------------------------------

  onPushBytes(chunk: Buffer, start: number, end: number, complete: boolean): void {
    this.pushParts.push(chunk.subarray(start, end));
    if (!complete) return;
    const frame = this.pushParts.length === 1 ? this.pushParts[0]! : Buffer.concat(this.pushParts);
    this.pushParts = [];
    if (this.closed) return;
    let out = frame;
    if (this.subscribed && (frame[0] === RespType.Array || frame[0] === RespType.Push)) {
      try {
        out = this.governPush(frame);
      } catch {
        out = Buffer.alloc(0);
      }
    }
    if (out.length === 0) return;
    if (this.outQueue.length === 0) {
      this.socket.write(out);
      this.applyOutputBackpressure();
    } else {
      this.outQueue.push(out);
    }
  }

  /** Mask a pub/sub message by its channel; track subscription counts to give the connection back. */
  private governPush(frame: Buffer): Buffer {
    const root = decodeFrame(frame);
    const c = root.children;
    if (!c || c.length < 3 || !isStringNode(c[0]!)) return frame;
    const kind = nodeText(frame, c[0]!).toLowerCase();
    if (UNSUBSCRIBE.has(kind) || SUBSCRIBE.has(kind)) {
      const n = c[2]!.type === RespType.Integer ? nodeInteger(frame, c[2]!) : 1;
      if (kind === 'ssubscribe' || kind === 'sunsubscribe') this.subscriptions.shards = n;
      else this.subscriptions.channels = n;
      if (UNSUBSCRIBE.has(kind) && this.subscriptions.channels === 0 && this.subscriptions.shards === 0) {
        this.subscribed = false;
        if (this.dedicated) this.dedicated.pipeAll = false;
        queueMicrotask(() => this.maybeRelease());
      }
      return frame;
    }
    if (kind !== 'message' && kind !== 'pmessage' && kind !== 'smessage') return frame;
    const policy = this.env.gov.policy();
    const channel = nodeText(frame, kind === 'pmessage' ? c[2]! : c[1]!);
    const plan = policy.fieldPlan(this.role, { name: classificationName(channel), type: 'text' });
    if (plan.mode === 'clear' && !policy.scansValuesFor(this.role)) return frame;
    const labels = new Map<string, number>();
    const seen = new Set<string>();
    const stats = {
      seen: (l: string) => void seen.add(l),
      masked: (l: string) => void labels.set(l, (labels.get(l) ?? 0) + 1),
    };
    const out = maskPush(frame, { policy, role: this.role, stats });
    if (seen.size > 0) {
      // Classified data delivered by pub/sub is audited like a read of the channel.
      const op = this.env.gov.begin({
        identity: this.identity,
        role: this.role,
        operation: kind,
        kind: 'read',
        objects: [channel],
        labels: [...seen],
        statement: `${kind.toUpperCase()} ${channel}`,
      });
      for (const [l, n] of labels) for (let i = 0; i < n; i++) op.masked(l, 'redact');
      op.settleLocally();
      op.finish({ rows: 1 }).catch(() => undefined);
    }
    return out;
  }

  onUpstreamClosed(conn: UpstreamConnection): void {
    if (conn !== this.dedicated) return;
    this.dedicated = null;
    if (this.subscribed || this.monitoring || this.multi || this.watching) {
      // State held on the upstream is gone; the client must reconnect to restore it.
      this.fatal('ERR dgf: upstream connection lost');
    }
  }

  // ---- teardown ---------------------------------------------------------------------------------------------

  /** Send a final error (after the replies already due) and close. */
  private fatal(message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.pause();
    const batch = new Batch(this.env.gov.policy(), performance.now());
    batch.slots.push(new Slot(this, batch, null, null, null, []).local(errorReply(message)));
    batch.sealed = true;
    batch.closeAfter = true;
    this.outQueue.push(batch);
    this.maybeComplete(batch);
    // A client that never reads must not keep the session alive.
    setTimeout(() => this.teardown(), 5000).unref();
  }

  teardown(): void {
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    if (this.torn) return;
    this.torn = true;
    this.closed = true;
    this.env.gov.clientClosed();
    if (!this.socket.destroyed) {
      if (this.socket.writableLength > 0 && !this.socket.writableEnded) this.socket.destroy();
      else this.socket.destroy();
    }
    for (const item of this.outQueue) if (item instanceof Batch) for (const s of item.slots) s.discard = true;
    this.outQueue.length = 0;
    this.heldBytes = 0;
    if (this.pausedUpstream) {
      this.pausedUpstream.socket.resume();
      this.pausedUpstream = null;
    }
    const d = this.dedicated;
    if (d) {
      this.dedicated = null;
      d.pushHandler = null;
      // A client that leaves mid-transaction, blocked or subscribed leaves upstream state behind: close it.
      const clean =
        d.pending === 0 && !this.multi && !this.watching && this.blocked === 0 && !this.subscribed && !this.monitoring && !this.tracking && this.db === this.env.defaultDb;
      this.env.pool.release(d, clean);
    }
  }

  /** Close an idle client during shutdown. */
  closeIfIdle(): void {
    if (this.inflight === 0 && this.outQueue.length === 0) {
      this.socket.end();
    }
  }
}

/** Whether the command is audited (by an Operation of its own or as an entry of its batch's record). */
function isAudited(s: Slot): boolean {
  return s.op !== null || s.tally !== null;
}

type BatchKind = 'read' | 'write' | 'admin' | 'other';

/**
 * A batch's audited commands as record entries: with their outcome (labels, masked counts, rows, error), or as an
 * intent (decided, nothing run yet). Also the distinct operations (for the record's statement), the batch's kind
 * and what its commands classified and masked, summed.
 */
function commandEntries(governed: readonly Slot[], outcome: boolean): { entries: AuditEntry[]; operations: string[]; kind: BatchKind; all: MaskTally | null } {
  const entries: AuditEntry[] = new Array<AuditEntry>(governed.length);
  const operations: string[] = [];
  let all: MaskTally | null = null;
  let kind: BatchKind = 'read';
  for (let i = 0; i < governed.length; i++) {
    const s = governed[i]!;
    const tally = s.tally;
    // A command is tallied as an entry, or (an unknown command) governed by an Operation of its own.
    const saw: MaskTally = tally ?? s.op!;
    let seen: string[] = NO_LABELS_SEEN;
    let counts: Record<string, number> = NO_VALUES_MASKED;
    if (outcome && saw.hasLabels()) {
      seen = saw.seenLabels();
      if (saw.hasMasked()) counts = saw.maskedCounts();
      (all ??= new MaskTally()).add(saw);
    }
    const operation = tally ? tally.operation : s.op!.options.operation;
    if (operations.length < MAX_STATEMENT_OPERATIONS && !operations.includes(operation)) operations.push(operation);
    const k = tally ? tally.kind : s.op!.options.kind;
    if (k === 'admin') kind = 'admin';
    else if (k === 'write' && kind !== 'admin') kind = 'write';
    const decision = tally ? tally.decision : s.op!.decision;
    entries[i] = new CanonicalEntry(
      operation,
      s.objects.length === 0 ? null : s.objects.length === 1 ? s.objects[0]! : s.objects.join(','),
      s.plainStatement ? null : s.statement,
      seen,
      counts,
      outcome ? s.rows : null,
      decision.action,
      decision.rules as string[],
      outcome ? s.error : null,
    );
  }
  return { entries, operations, kind, all };
}

/** An audited command sent upstream (not answered by dgf): it goes under an intent record. */
function isForwardedAudited(s: Slot): boolean {
  return s.target !== null && (s.op !== null || s.tally !== null);
}

/**
 * The audited commands of `batches`, in order. A loop rather than flatMap/filter: Array.prototype.flatMap is not
 * inlined by V8 and showed as ~3% of dgf's CPU at pipeline 16 (perf, redis-benchmark SET -P 16).
 */
function governedSlotsOf(batches: readonly Batch[]): Slot[] {
  const out: Slot[] = [];
  for (let b = 0; b < batches.length; b++) {
    const slots = batches[b]!.slots;
    for (let i = 0; i < slots.length; i++) if (isAudited(slots[i]!)) out.push(slots[i]!);
  }
  return out;
}

/** Rows of a reply for the audit record: aggregate length, 0 for nulls, 1 for a scalar. */
function rowsOf(parts: Buffer[]): number {
  const first = parts[0]!;
  const t = first[0]!;
  if (t === RespType.Null) return 0;
  if (t !== RespType.Array && t !== RespType.Set && t !== RespType.Map && t !== RespType.BulkString && t !== RespType.Push) return 1;
  let n = 0;
  let neg = false;
  // The header may be cut across spans; read digits up to CR.
  outer: for (const p of parts) {
    for (let i = p === first ? 1 : 0; i < p.length; i++) {
      const c = p[i]!;
      if (c === 45) neg = true;
      else if (c >= 48 && c <= 57) n = n * 10 + (c - 48);
      else break outer;
    }
  }
  if (neg) return 0;
  return t === RespType.BulkString ? 1 : n;
}
