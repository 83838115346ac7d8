/**
 * One client connection: an explicit state machine
 *   startup (SSLRequest / GSSENCRequest / CancelRequest / StartupMessage) -> auth -> ready <-> (query | extended | copy) -> closed
 * and, while ready, the bridge to whichever upstream connection the pool lends it.
 *
 * Every message forwarded upstream that expects an answer leaves an Entry in `queue`; upstream frames are
 * attributed to the entry at its head. That is what lets dgf insert its own messages (re-Parse of a statement
 * on another connection, setting replay, Describe of a portal the driver did not describe) and answer some
 * messages itself (ParseComplete of an already-prepared statement, CloseComplete, governance errors) while the
 * client still sees exactly the sequence of replies a real server would send.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { randomInt } from 'node:crypto';
import type { Operation } from '../../src/governance/operation.js';
import { UNTRACED_LABEL, type Identity, type MaskStats } from '../../src/policy/types.js';
import { MaskTally } from '../../src/policy/tally.js';
import { ProtocolError } from '../shared/errors.js';
import type { ClientAuthenticator } from './auth/authenticator.js';
import { CleartextAuthenticator } from './auth/cleartext.js';
import { Md5Authenticator } from './auth/md5.js';
import { ScramSha256Authenticator } from './auth/scram-sha-256.js';
import { ClientOutput } from './client-output.js';
import * as be from './codec/backend-encoder.js';
import { decodeBackend, errorFields, type RowDescriptionMessage } from './codec/backend-decode.js';
import { FrameDecoder } from './codec/frame-decoder.js';
import * as fe from './codec/frontend-encoder.js';
import { readBind, readCString, readExecute, readParse, readStartupPacket, readTarget } from './codec/frontend-messages.js';
import { BackendCode, FrontendCode, SqlState } from './codec/message-codes.js';
import { unanalyzed, type StatementInfo } from './governance/analyze.js';
import { CACHED_PLAN_CHANGED, analyzeStatement, renewedName, statementContext } from './statement-shapes.js';
import { CopyOutMasker, RowMasker, type ColumnInfo } from './governance/row-masker.js';
import { NO_VERDICT, type LineageVerdict } from './governance/lineage-plan.js';
import { SessionLineage } from './governance/session-lineage.js';
import { scrubBackendNotice, scrubNotification, scrubParameterStatus } from './governance/error-scrub.js';
import type { ListenerState, SharedStatement } from './listener-state.js';
import type { PoolRequest, ReleaseMode } from './pool.js';
import { PipelineDrain, passTurn } from './pipeline-drain.js';
import type { PipelineFollower, UpstreamConnection } from './upstream-connection.js';
import type { ChunkInbox } from '../shared/slab-reader.js';

/** Session features that only exist on one backend: the client keeps its connection until it disconnects. */
const PINNING = new Set(['listen', 'advisory-lock', 'temp-table', 'hold-cursor', 'prepare']);

/** Bytes a client may have buffered while it waits for a connection before its socket is paused. */
const PAUSE_BACKLOG = 1024 * 1024;
/** Most Queries of other clients queued behind one connection's owner (bounds head-of-line waiting). */
const MAX_FOLLOWERS = 4;
const QUERY_CANCELED = '57014';
/** The rule id of a refusal by lineage (an output dgf cannot trace, a masked value laundered): in the audit trail. */
const LINEAGE_RULE = 'dgf-lineage';
/** The rule a statement longer than the listener's `maxStatementBytes` is refused by. */
const TOO_LARGE_RULE = 'dgf-statement-too-large';
/** What dgf knows of a statement it refused to analyze for its size. */
const TOO_LARGE_INFO = unanalyzed('<statement too large to analyze>');
/** Default of the listener's `authTimeoutMs`. */
const AUTH_TIMEOUT_MS = 10_000;
const UNTRACED_ONLY: readonly string[] = Object.freeze([UNTRACED_LABEL]);

/**
 * A simple Query another client's may be queued behind on the same connection: one read-only autocommit SELECT
 * that changes no session state (no SET, lock, cursor, temp table, COPY or transaction control), so the
 * connection is exactly as it was once its ReadyForQuery is read.
 */
function pipelinable(infos: readonly StatementInfo[], copyMaskers: unknown): boolean {
  if (infos.length !== 1 || copyMaskers !== null) return false;
  const info = infos[0]!;
  return (
    info.kind === 'read' &&
    info.operation === 'select' &&
    info.session === null &&
    info.transaction === null &&
    info.copy === null &&
    info.setting === undefined
  );
}

/** Startup parameters that are not settings to replay. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options']);

/** The poison dgf sends in place of a refused extended-protocol message: a syntax error that runs nothing, but puts the
 * upstream into the same error state a real refusal would (the implicit transaction fails, messages to Sync are skipped). */
const POISON_SQL = 'dgf refused this statement';

function unknownStatement(name: string): Buffer {
  const message = name === '' ? 'unnamed prepared statement does not exist' : `prepared statement "${name}" does not exist`;
  return be.errorResponse({ severity: 'ERROR', code: SqlState.InvalidSqlStatementName, message });
}

function unknownPortal(name: string): Buffer {
  return be.errorResponse({ severity: 'ERROR', code: SqlState.InvalidCursorName, message: `portal "${name}" does not exist` });
}

/** A statement the client prepared (protocol level). */
interface ClientStatement {
  name: string;
  shared: SharedStatement;
  sql: string;
  paramTypes: number[];
  /** Name used upstream: shared by every client with the same text and types ('' for the unnamed statement). */
  serverName: string;
  infos: readonly StatementInfo[];
  /** Result columns, from a Describe of the statement (formats still text: Bind decides). */
  columns: ColumnInfo[] | null;
  /** The RowDescription/NoData frame the client was given for it: the rows it decodes must keep that shape. */
  described: Buffer | null;
  /**
   * Parsed by the client and not yet prepared upstream for it: a server statement of that name already on a
   * connection may predate DDL or another search_path (PostgreSQL would refuse its plan with 0A000, where a
   * direct Parse gets a fresh one), so it is prepared again (Close + Parse) instead of reused.
   */
  fresh: boolean;
}

/** A bound portal and the operation governing it. */
interface Portal {
  stmt: ClientStatement | null;
  info: StatementInfo | null;
  op: Operation | null;
  formats: number[];
  columns: ColumnInfo[] | null;
  masker: RowMasker | null | undefined;
  copyMasker: CopyOutMasker | null;
  /** What this role may get of the statement's outputs (lineage). */
  verdict: LineageVerdict;
  rows: number;
  sentAt: number;
  /** The client asked to describe this portal: its row description is on the way. */
  describing: boolean;
}

/** What a statement's audit record gets when it ends. */
interface FinishResult {
  rows?: number;
  error?: string | null;
  upstreamMs?: number;
}

type EntryKind = 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync' | 'query' | 'synthetic';

/** One message forwarded (or answered locally) that expects a reply. */
class Entry {
  kind: EntryKind;
  /** dgf's own message: its replies are not the client's. */
  swallow = false;
  /** Also drop an ErrorResponse (setting replay: a bad client setting must not break its statements). */
  swallowErrors = false;
  /** Bytes dgf answers itself when this entry reaches the head. */
  synthetic: Buffer | null = null;
  /** Replacement for the upstream's ErrorResponse (the refusal behind a poison message). */
  deny: Buffer | null = null;
  stmt: ClientStatement | null = null;
  serverName: string | null = null;
  portal: Portal | null = null;
  ops: Operation[] | null = null;
  infos: readonly StatementInfo[] | null = null;
  /** Lineage verdicts by statement index (null: the role has no mask). */
  verdicts: readonly LineageVerdict[] | null = null;
  index = 0;
  masker: RowMasker | null = null;
  copyMasker: CopyOutMasker | null = null;
  paramDesc: Buffer | null = null;
  /** COPY TO maskers planned when the query was governed, by statement index. */
  copyMaskers: Array<CopyOutMasker | null> | null = null;
  rows = 0;
  sentAt = 0;
  /**
   * A follower's Query, kept to run it again if a cancel meant for the client ahead of it lands on it instead
   * (`conn.cancels` moved since it was sent) before any of its results went out.
   */
  resend: Buffer | null = null;
  cancelsAtSend = 0;
  /** Its answer is a cancel that was not its client's: swallow the reply and run the Query again. */
  rerun = false;
  /** dgf's Describe of a statement before a Bind of it: the client's messages wait for it, then this runs. */
  then: (() => void) | null = null;
  /** Some of its results went to the client already (it can no longer be run again). */
  started = false;

  constructor(kind: EntryKind) {
    this.kind = kind;
  }
}

type State = 'startup' | 'auth' | 'login' | 'ready' | 'closed';

let nextProcessId = randomInt(1000, 1_000_000);

/** Where pooled reads go once the connection is TLS (nothing arrives there: the TLS socket reads it). */
function ignoreChunk(): void {}

export class Session implements PipelineFollower {
  private socket: net.Socket;
  private readonly decoder: FrameDecoder;
  private readonly out: ClientOutput;
  private state: State = 'startup';
  private tls = false;
  private authenticator: ClientAuthenticator | null = null;
  private user = '';
  private database = '';
  private identity: Identity = { user: '' };
  private role = 'default';
  private readonly processId = nextProcessId++ & 0x7fffffff;
  private readonly secretKey = randomInt(0, 0x7fffffff);
  private opened = false;

  private conn: UpstreamConnection | null = null;
  private blocked = false;
  private pinned = false;
  /** Holds `conn` as a follower: its Query is queued behind another client's (see PipelineFollower). */
  private following = false;
  /** The result shape (RowDescription body) this session last found needing no masker, and what that depended on. */
  private lastPlainShape: { role: string; policy: number; catalog: number; verdict: number; bytes: Buffer } | null = null;
  /** ReadyForQuery messages owed to this (closed) follower, read by a PipelineDrain at its turn. */
  private owedAtTurn = 0;
  private txStatus: be.TxStatus = 'I';
  private readonly queue: Entry[] = [];
  /** The upstream reported an error in extended mode: it skips messages until Sync, so do their entries. */
  private errorSkip = false;
  /** dgf itself failed a message in extended mode (no connection): skip the client's messages until Sync. */
  private localSkip = false;
  private copyIn = false;

  private readonly statements = new Map<string, ClientStatement>();
  private readonly portals = new Map<string, Portal>();
  private startupSettings = new Map<string, string>();
  private settings = new Map<string, string>();
  /** statementScope(), while the settings and role stay as they are. */
  private scope: string | null = null;
  /** Setting changes made in the current transaction: kept at commit, dropped at rollback. */
  private pendingSettings: Array<{ name: string; value: string | null }> = [];

  private finishes: Array<{ op: Operation; result: FinishResult; resolve: (() => void) | null; reject: ((err: unknown) => void) | null }> = [];
  private finishScheduled = false;

  /**
   * Write-ahead (failMode closed): upstream bytes written after an intent record was appended wait here, in
   * order, until the audit log kept it (in the same event-loop turn with durability write); null when nothing
   * waits. `heldBatches` counts the audit batches still owed; `heldOn` is the last one's promise.
   */
  private held: Buffer[] | null = null;
  private heldBatches = 0;
  private heldOn: Promise<void> | null = null;

  // Run of upstream frames forwarded untouched, written as one slice.
  private runBuf: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  private readonly lineage: SessionLineage;
  private authTimer: NodeJS.Timeout | null = null;

  private readonly onAuthTimeout = (): void => {
    this.authTimer = null;
    if (this.state !== 'startup' && this.state !== 'auth') return;
    // PostgreSQL's own words for authentication_timeout.
    this.closeWith(be.errorResponse({ severity: 'FATAL', code: SqlState.QueryCanceled, message: 'canceling authentication due to timeout' }));
  };

  private clearAuthTimer(): void {
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
  }

  /** The plain socket's pooled reads (tcp-listener.ts), or null: it reads through 'data' events (TLS sockets do). */
  private reads: ChunkInbox | null;

  constructor(
    socket: net.Socket,
    private readonly l: ListenerState,
    reads: ChunkInbox | null = null,
  ) {
    this.socket = socket;
    this.reads = reads;
    this.lineage = new SessionLineage(l.lineage, l.verdicts);
    // A client that connects and never finishes authenticating holds a socket and a session: bounded in time.
    this.authTimer = setTimeout(this.onAuthTimeout, l.config.authTimeoutMs ?? AUTH_TIMEOUT_MS);
    this.authTimer.unref();
    this.decoder = new FrameDecoder(l.config.maxMessageBytes, { startup: true, preAuth: true });
    this.out = new ClientOutput(socket);
    this.attachSocket(socket);
  }

  // ---------------------------------------------------------------- client socket

  private attachSocket(socket: net.Socket): void {
    if (this.reads !== null) this.reads.deliver = this.onClientData;
    else socket.on('data', this.onClientData);
    socket.on('error', this.onClientError);
    socket.on('close', this.onClientClose);
    socket.on('drain', this.onClientDrain);
  }

  private detachSocket(socket: net.Socket): void {
    if (this.reads !== null) {
      // The TLS socket about to wrap this one reads the connection from now on.
      this.reads.deliver = ignoreChunk;
      this.reads = null;
    }
    socket.off('data', this.onClientData);
    socket.off('error', this.onClientError);
    socket.off('close', this.onClientClose);
    socket.off('drain', this.onClientDrain);
  }

  private readonly onClientData = (chunk: Buffer): void => {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.pumpClient();
  };

  private readonly onClientError = (): void => {
    // 'close' follows; the session cleans up there.
  };

  private readonly onClientClose = (): void => {
    this.teardown('client disconnected');
  };

  private readonly onClientDrain = (): void => {
    this.out.writable = true;
    this.conn?.resume();
  };

  private pumpClient(): void {
    const d = this.decoder;
    this.out.cork();
    // Write-ahead: everything read in this turn goes upstream together, after the intents it holds are kept (a
    // Parse before its Bind's intent included), with one writev; nothing held for an intent leaves at the end.
    if (this.held === null && this.l.gov.audit.failMode === 'closed') this.held = [];
    try {
      while (!this.blocked && this.state !== 'closed' && !this.heldByPipeline() && d.next()) {
        if (d.startup) this.onStartupPacket(d.buffer, d.body, d.end);
        else if (this.state === 'auth') this.onAuthMessage(d.code, d.buffer, d.body, d.end);
        else this.onMessage(d.code, d.buffer, d.start, d.body, d.end);
      }
    } catch (err) {
      this.fail(err);
    }
    if (this.heldBatches === 0 && this.held !== null) this.releaseHeld();
    this.flushRun();
    this.out.uncork();
    // While waiting for a connection, a client that keeps sending is stopped at the socket.
    if ((this.blocked || this.heldByPipeline()) && this.decoder.buffered > PAUSE_BACKLOG && !this.socket.isPaused()) this.socket.pause();
  }

  /**
   * While Queries of other clients sit behind this client's on its connection (or this client's sits behind
   * another's), its next message must wait: written now it would land after theirs and take their replies.
   */
  private heldByPipeline(): boolean {
    const conn = this.conn;
    return conn !== null && (this.following || conn.followers.length > 0);
  }

  private readonly resumeAfterPipeline = (): void => {
    if (this.state === 'closed' || this.heldByPipeline()) return;
    if (!this.blocked && this.socket.isPaused()) this.socket.resume();
    this.pumpClient();
  };

  /** This follower's turn: the replies now reading on `conn` are its own Query's. */
  onTurn(conn: UpstreamConnection): void {
    this.following = false;
    if (this.state === 'closed') {
      new PipelineDrain(this.l.pool, this.owedAtTurn).start(conn);
      return;
    }
    conn.owner = this;
    if (this.out.writable) conn.resume();
    else conn.pause();
    if (conn.hasBuffered) this.pumpUpstream();
    if (!this.heldByPipeline()) queueMicrotask(this.resumeAfterPipeline);
  }

  /**
   * Queue this client's Query behind another client's on a busy connection instead of waiting for the pool (the
   * server runs them back to back): only for a pipelinable Query, when no client waits in the pool (they keep
   * their turn), no connection can be opened, and the connection's settings are this client's.
   */
  private tryFollow(infos: readonly StatementInfo[], copyMaskers: unknown): boolean {
    const pool = this.l.pool;
    if (this.queue.length > 0 || !this.mayPipeline() || !pipelinable(infos, copyMaskers) || pool.waiting > 0 || !pool.full) return false;
    let best: UpstreamConnection | null = null;
    for (const c of pool.connections()) {
      if (!c.pipelinable || c.owner === null || c.closed || c.poisoned || c.needsCatalogRefresh) continue;
      if (c.database !== this.database || c.followers.length >= MAX_FOLLOWERS || !this.settingsMatch(c)) continue;
      if (!best || c.followers.length < best.followers.length) best = c;
    }
    if (!best) return false;
    this.conn = best;
    this.following = true;
    best.followers.push(this);
    return true;
  }

  /** The session's side of pipelining: transaction pooling, between transactions, no protocol state pending. */
  private mayPipeline(): boolean {
    return this.l.config.pool === 'transaction' && !this.pinned && this.txStatus === 'I' && !this.copyIn && !this.errorSkip && !this.localSkip && !this.lineage.leftState;
  }

  /** Whether `conn` runs with exactly this client's settings (replaySettings would send nothing). */
  private settingsMatch(conn: UpstreamConnection): boolean {
    if (conn.applied.size !== this.settings.size) return false;
    for (const [k, v] of this.settings) if (conn.applied.get(k) !== v) return false;
    return true;
  }

  /** Answer a protocol error in the protocol's own format; fatal ones close the connection. */
  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    const pe = err instanceof ProtocolError ? err : null;
    if (!pe) this.l.gov.logger.error({ err }, 'postgres session failed');
    const code = pe?.code ?? SqlState.InternalError;
    const message = pe?.message ?? 'dgf internal error';
    if (pe && !pe.fatal && this.state === 'ready') {
      this.emit(be.errorResponse({ severity: 'ERROR', code, message }));
      return;
    }
    this.closeWith(be.errorResponse({ severity: 'FATAL', code, message }));
  }

  private closeWith(message: Buffer | null): void {
    if (this.state === 'closed') return;
    this.flushRun();
    if (message) this.out.write(message);
    this.teardown(null);
    this.socket.end();
    const s = this.socket;
    setTimeout(() => s.destroy(), 2000).unref();
  }

  // ---------------------------------------------------------------- startup and authentication

  private onStartupPacket(buf: Buffer, body: number, end: number): void {
    const p = readStartupPacket(buf, body, end);
    switch (p.kind) {
      case 'ssl': {
        if (this.tls) throw new ProtocolError('SSLRequest received on an encrypted connection', SqlState.ProtocolViolation);
        if (this.decoder.buffered > 0) {
          // Plaintext bytes behind an SSLRequest would be read as if they came through TLS (CVE-2021-23214).
          throw new ProtocolError('received unencrypted data after SSL request', SqlState.ProtocolViolation);
        }
        if (!this.l.tlsContext) {
          this.socket.write('N');
          return;
        }
        this.socket.write('S');
        this.upgradeTls(this.l.tlsContext);
        return;
      }
      case 'gssenc':
        this.socket.write('N');
        return;
      case 'cancel':
        this.l.sessions.get(p.processId)?.cancel(p.secretKey);
        this.state = 'closed';
        this.socket.end();
        return;
      case 'startup':
        this.onStartup(p.minor, p.params, p.unknownOptions);
        return;
    }
  }

  private upgradeTls(context: tls.SecureContext): void {
    const raw = this.socket;
    this.detachSocket(raw);
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.out.setSocket(secure);
    this.tls = true;
    this.attachSocket(secure);
    secure.on('error', () => raw.destroy());
  }

  private onStartup(minor: number, params: Map<string, string>, unknownOptions: string[]): void {
    this.decoder.startup = false;
    if (minor > 0 || unknownOptions.length > 0) this.out.write(be.negotiateProtocolVersion(0, unknownOptions));
    this.user = params.get('user')!;
    this.database = params.get('database') || this.l.target.database;
    this.identity = {
      user: this.user,
      ...(params.get('application_name') ? { application: params.get('application_name')! } : {}),
      ...(this.socket.remoteAddress ? { address: this.socket.remoteAddress.replace(/^::ffff:/, '') } : {}),
      database: this.database,
    };
    for (const [k, v] of params) if (!NOT_SETTINGS.has(k)) this.startupSettings.set(k, v);
    for (const [k, v] of parseOptions(params.get('options') ?? '')) this.startupSettings.set(k, v);
    this.settings = new Map(this.startupSettings);
    this.scope = null;
    if (this.l.closing) throw new ProtocolError('the database system is shutting down', '57P03');

    const known = this.l.users.get(this.user);
    const method = this.l.authMethod;
    if (method === 'trust') {
      if (this.l.users.size > 0 && !known) throw new ProtocolError(`role "${this.user}" is not allowed to connect through dgf`, SqlState.InvalidAuthorization);
      void this.login();
      return;
    }
    this.authenticator =
      method === 'md5'
        ? new Md5Authenticator(this.user, known?.password)
        : method === 'password'
          ? new CleartextAuthenticator(this.user, known?.password)
          : new ScramSha256Authenticator(this.user, known?.scram);
    this.state = 'auth';
    this.out.write(this.authenticator.start());
  }

  private onAuthMessage(code: number, buf: Buffer, body: number, end: number): void {
    if (code !== FrontendCode.Password) {
      throw new ProtocolError(`expected password response, got message type ${code}`, SqlState.ProtocolViolation);
    }
    const step = this.authenticator!.step(buf, body, end);
    if (step.reply) this.out.write(step.reply);
    if (step.done) {
      this.authenticator = null;
      void this.login();
    }
  }

  /** After authentication: role, upstream parameters, BackendKeyData, ReadyForQuery. */
  private async login(): Promise<void> {
    this.clearAuthTimer();
    this.decoder.preAuth = false;
    this.state = 'login';
    this.blocked = true;
    this.role = this.l.gov.roleOf(this.identity);
    this.l.gov.clientOpened();
    this.opened = true;
    this.out.write(be.authenticationOk);
    let params: Map<string, string>;
    try {
      params = await this.serverParams();
    } catch (err) {
      this.loginFailed(err);
      return;
    }
    if ((this.state as State) === 'closed') return;
    for (const [k, v] of params) {
      const clientValue = k === 'application_name' || k === 'client_encoding' || k === 'DateStyle' || k === 'TimeZone' || k === 'IntervalStyle' ? this.settings.get(k) : undefined;
      this.out.write(be.parameterStatus(k, normalizeParam(k, clientValue ?? v)));
    }
    if (!params.has('application_name')) this.out.write(be.parameterStatus('application_name', this.settings.get('application_name') ?? ''));
    this.out.write(be.parameterStatus('session_authorization', this.user));
    this.out.write(be.backendKeyData(this.processId, this.secretKey));
    this.out.write(be.readyForQuery('I'));
    this.l.sessions.set(this.processId, this);
    this.state = 'ready';
    this.unblock();
  }

  private unblock(): void {
    this.blocked = false;
    if (this.socket.isPaused()) this.socket.resume();
    this.pumpClient();
  }

  private loginFailed(err: unknown): void {
    let sqlState = (err as { sqlState?: string }).sqlState ?? (err instanceof ProtocolError ? err.code : SqlState.ConnectionFailure);
    let message = err instanceof ProtocolError ? err.message : `dgf: cannot reach the upstream database: ${(err as Error).message}`;
    if (sqlState.startsWith('28')) {
      // The upstream refused dgf's own credentials: nothing the client can fix, and not the client's password.
      this.l.gov.logger.error({ err }, 'upstream refused the credentials of upstream.url');
      sqlState = SqlState.ConnectionFailure;
      message = 'dgf: the upstream database refused the proxy credentials (see the dgf log)';
    }
    this.closeWith(be.errorResponse({ severity: 'FATAL', code: sqlState, message }));
  }

  /** The upstream's startup ParameterStatus for the client's database (session mode: take the connection now). */
  private async serverParams(): Promise<Map<string, string>> {
    const cached = this.l.serverParams.get(this.database);
    if (cached && this.l.config.pool === 'transaction') return cached;
    const conn = await this.l.pool.acquire(this.database);
    const params = new Map(conn.params);
    this.l.serverParams.set(this.database, params);
    if ((this.state as State) === 'closed') {
      this.l.pool.release(conn, 'clean');
    } else if (this.l.config.pool === 'session') {
      this.adopt(conn);
    } else {
      this.l.pool.release(conn, 'clean');
    }
    return params;
  }

  // ---------------------------------------------------------------- upstream ownership

  private adopt(conn: UpstreamConnection): void {
    this.conn = conn;
    conn.owner = this;
    this.replaySettings(conn);
    if (this.out.writable) conn.resume();
    else conn.pause();
    if (conn.hasBuffered) this.pumpUpstream();
  }

  /** Run `then` with an upstream connection, acquiring one (and holding client input meanwhile) if needed. */
  private withConn(then: () => void, onError?: (err: unknown) => void): void {
    if (this.conn) {
      then();
      return;
    }
    const idle = this.l.pool.takeIdleNow(this.database);
    if (idle) {
      this.adopt(idle);
      then();
      return;
    }
    this.blocked = true;
    this.waitThen = then;
    this.waitError = onError ?? null;
    this.l.pool.request(this.database, this.poolRequest);
  }

  private waitThen: (() => void) | null = null;
  private waitError: ((err: unknown) => void) | null = null;

  /**
   * The pool calls these synchronously, possibly from inside another session's reply handling (the hand-over at
   * its ReadyForQuery): nothing may throw out of them into that session.
   */
  private readonly poolRequest: PoolRequest = {
    granted: (conn) => {
      const then = this.waitThen!;
      this.waitThen = this.waitError = null;
      if (this.state === 'closed') {
        this.l.pool.release(conn, 'clean');
        return;
      }
      try {
        this.adopt(conn);
        this.blocked = false;
        this.out.cork();
        try {
          then();
        } finally {
          this.out.uncork();
        }
        if (this.socket.isPaused()) this.socket.resume();
        this.pumpClient();
      } catch (err) {
        this.fail(err);
      }
    },
    refused: (err) => {
      const onError = this.waitError;
      this.waitThen = this.waitError = null;
      if (this.state === 'closed') return;
      try {
        this.blocked = false;
        this.out.cork();
        try {
          if (onError) onError(err);
          else this.fail(err);
        } finally {
          this.out.uncork();
        }
        if (this.socket.isPaused()) this.socket.resume();
        this.pumpClient();
      } catch (e) {
        this.fail(e);
      }
    },
  };

  /** Bring the connection's settings to the client's (SET replay), as one swallowed simple query. */
  private replaySettings(conn: UpstreamConnection): void {
    let sql = '';
    for (const [k, v] of this.settings) {
      if (conn.applied.get(k) === v) continue;
      sql += `${sql ? ', ' : 'SELECT '}pg_catalog.set_config(${fe.literal(k)}, ${fe.literal(v)}, false)`;
      conn.applied.set(k, v);
    }
    let resets = '';
    for (const k of [...conn.applied.keys()]) {
      if (this.settings.has(k)) continue;
      resets += `RESET ${quoteIdent(k)};`;
      conn.applied.delete(k);
    }
    if (!sql && !resets) return;
    const e = new Entry('query');
    e.swallow = true;
    e.swallowErrors = true;
    this.send(fe.query(sql ? `${sql};${resets}` : resets));
    this.enqueue(e);
  }

  /** Give the connection back when the client is between transactions (transaction pooling). */
  private maybeRelease(): void {
    const conn = this.conn;
    if (!conn || this.queue.length > 0 || this.copyIn || this.pinned || this.txStatus !== 'I') return;
    if (this.l.config.pool !== 'transaction') {
      if (conn.needsCatalogRefresh) void this.refreshInPlace(conn);
      return;
    }
    this.flushRun();
    this.conn = null;
    conn.owner = null;
    if (conn.followers.length > 0) {
      passTurn(conn, this.l.pool);
      // Messages this client sent meanwhile were held (heldByPipeline): take them up once this turn is over.
      queueMicrotask(this.resumeAfterPipeline);
      return;
    }
    this.l.pool.release(conn, this.lineage.takeLeftState() ? 'discard' : 'clean');
  }

  /** Refresh the catalog on this client's connection, holding its messages, then run `retry`. */
  private refreshCatalogThen(retry: () => void): void {
    this.withConn(() => {
      void this.refreshInPlace(this.conn!, () => {
        this.out.cork();
        try {
          retry();
        } catch (err) {
          this.fail(err);
        }
        // A retried statement answered by dgf itself (refused) leaves the connection unused: hand it back.
        this.maybeRelease();
        this.flushRun();
        this.out.uncork();
      });
    }, this.extendedAcquireFailed);
  }

  /**
   * Session mode / pinned: refresh the catalog after DDL on the connection the client keeps. `then` runs before
   * the client's next message is read.
   */
  private async refreshInPlace(conn: UpstreamConnection, then?: () => void): Promise<void> {
    conn.needsCatalogRefresh = false;
    this.blocked = true;
    conn.owner = null;
    try {
      await this.l.catalog.refresh((sql) => conn.run(sql));
    } catch (err) {
      this.l.gov.logger.warn({ err }, 'catalog refresh failed');
    }
    if (this.state === 'closed' || conn.closed) return;
    conn.owner = this;
    this.blocked = false;
    then?.();
    this.unblock();
  }

  onUpstreamReadable(conn: UpstreamConnection): void {
    if (conn === this.conn) this.pumpUpstream();
  }

  onUpstreamDrain(conn: UpstreamConnection): void {
    if (conn === this.conn && !this.blocked) this.socket.resume();
  }

  onUpstreamClosed(conn: UpstreamConnection, error: Error): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.following = false;
    this.l.gov.logger.warn({ err: error }, 'upstream connection lost under a client');
    this.closeWith(be.errorResponse({ severity: 'FATAL', code: SqlState.ConnectionFailure, message: 'dgf: the upstream connection was lost' }));
  }

  /** CancelRequest with this session's key: cancel what runs on the connection it holds, and nothing else. */
  cancel(secretKey: number): void {
    if (secretKey !== this.secretKey) return;
    // This client wants its Query cancelled: if a cancel ends it, that is the answer (no rerun).
    for (const e of this.queue) e.resend = null;
    const conn = this.conn;
    if (conn && conn.owner === this && this.queue.length > 0) {
      // With Queries of other clients queued behind, the cancel may reach the server once this client's Query is
      // done and hit the next one: followers check `cancels` and run their Query again (see Entry.resend).
      conn.cancels++;
      this.l.cancelUpstream(conn.processId, conn.secretKey);
    }
  }

  private send(buf: Buffer): void {
    const conn = this.conn!;
    // Anything an owner writes besides a pipelinable Query (checked after the write) ends queueing behind it.
    if (!this.following) conn.pipelinable = false;
    if (this.held !== null) {
      // Not copied: the decoder never writes over bytes it handed out (frame-decoder.ts), as the socket's own
      // write queue relies on too.
      this.held.push(buf);
      return;
    }
    if (!conn.write(buf)) this.socket.pause();
  }

  /** Write-ahead: append the intent records of operations about to go upstream; their bytes wait for them. */
  private keepIntents(ops: readonly Operation[]): void {
    for (let i = 0; i < ops.length; i++) this.keepIntent(ops[i]!);
  }

  private keepIntent(op: Operation): void {
    const kept = op.intent();
    if (kept !== null) this.holdUntil(kept);
  }

  private holdUntil(kept: Promise<void>): void {
    // Records of one turn share one promise: one wait per batch, not per statement.
    if (kept === this.heldOn) return;
    this.heldOn = kept;
    this.held ??= [];
    this.heldBatches++;
    kept.then(this.onIntentsKept, this.onIntentsLost);
  }

  private readonly onIntentsKept = (): void => {
    if (--this.heldBatches > 0 || this.held === null) return;
    this.releaseHeld();
  };

  private releaseHeld(): void {
    const held = this.held!;
    this.held = null;
    this.heldOn = null;
    const conn = this.conn;
    if (held.length === 0 || conn === null || this.state === 'closed') return;
    if (!conn.writeMany(held)) this.socket.pause();
  }

  /**
   * An intent record could not be kept (audit sink full or failing): nothing written since it may go upstream.
   * The statements waiting behind it are refused with PostgreSQL's own error and the session ends; a connection
   * shared with other clients' pipelined Queries is closed rather than left owing replies that will never come.
   */
  private readonly onIntentsLost = (err: unknown): void => {
    this.heldBatches--;
    if (this.held === null) return;
    this.held = null;
    this.heldOn = null;
    this.l.gov.logger.error({ err }, 'audit intent record could not be kept: statement refused, nothing sent upstream');
    const conn = this.conn;
    if (conn && (this.following || conn.followers.length > 0)) conn.destroy();
    this.closeWith(
      be.errorResponse({
        severity: 'FATAL',
        code: SqlState.AuditUnavailable,
        message: 'dgf: the audit record of this statement could not be kept (audit failMode closed); it was not run',
      }),
    );
  };

  private forwardFrame(buf: Buffer, start: number, end: number): void {
    this.send(buf.subarray(start, end));
  }

  // ---------------------------------------------------------------- client messages (ready)

  private onMessage(code: number, buf: Buffer, start: number, body: number, end: number): void {
    if (this.localSkip && code !== FrontendCode.Sync && code !== FrontendCode.Terminate) return;
    switch (code) {
      case FrontendCode.Query:
        this.onQuery(buf, start, body, end);
        return;
      case FrontendCode.Parse:
        this.onParse(buf, start, body, end);
        return;
      case FrontendCode.Bind:
        this.withConn(() => this.onBind(buf, start, body, end), this.extendedAcquireFailed);
        return;
      case FrontendCode.Describe:
        if (!this.conn && this.describeLocally(buf, body, end)) return;
        this.withConn(() => this.onDescribe(buf, start, body, end), this.extendedAcquireFailed);
        return;
      case FrontendCode.Execute:
        this.withConn(() => this.onExecute(buf, start, body, end), this.extendedAcquireFailed);
        return;
      case FrontendCode.Close:
        this.onClose(buf, start, body, end);
        return;
      case FrontendCode.Sync:
        this.onSync(buf, start, end);
        return;
      case FrontendCode.Flush:
        if (this.conn) this.forwardFrame(buf, start, end);
        return;
      case FrontendCode.CopyData:
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        if (this.copyIn && this.conn) {
          this.forwardFrame(buf, start, end);
          if (code !== FrontendCode.CopyData) this.copyIn = false;
        }
        return;
      case FrontendCode.FunctionCall:
        this.answer(
          Buffer.concat([
            be.errorResponse({
              severity: 'ERROR',
              code: SqlState.FeatureNotSupported,
              message: 'dgf: the FunctionCall protocol message is not supported; call the function in SQL instead (SELECT fn(...))',
            }),
            be.readyForQuery(this.txStatus),
          ]),
        );
        return;
      case FrontendCode.Terminate:
        this.state = 'closed';
        this.teardown(null);
        this.socket.end();
        return;
      default:
        throw new ProtocolError(`invalid frontend message type ${code}`, SqlState.ProtocolViolation);
    }
  }

  private readonly extendedAcquireFailed = (err: unknown): void => {
    const pe = err instanceof ProtocolError ? err : new ProtocolError(`dgf: cannot reach the upstream database: ${(err as Error).message}`, SqlState.ConnectionFailure, false);
    this.emit(be.errorResponse({ severity: 'ERROR', code: pe.code, message: pe.message }));
    this.localSkip = true;
  };

  /** Answer locally, after every reply still expected from upstream. */
  private answer(buf: Buffer): void {
    if (this.queue.length === 0) {
      this.emit(buf);
      return;
    }
    const e = new Entry('synthetic');
    e.synthetic = buf;
    this.enqueue(e);
  }

  private enqueue(e: Entry): void {
    // PostgreSQL ignores every message but Sync after an extended-protocol error (even a simple Query).
    if (this.errorSkip && e.kind !== 'sync') {
      this.skipped(e);
      return;
    }
    e.sentAt = performance.now();
    this.queue.push(e);
  }

  private begin(analyzed: StatementInfo, verdict: LineageVerdict = NO_VERDICT): Operation {
    // Issue #18: names resolved through this session's search_path; notes state the pool must reset (session-lineage.ts).
    const info = this.lineage.firewall(analyzed, this.searchPath());
    return this.l.gov.begin({
      identity: this.identity,
      role: this.role,
      operation: info.operation,
      kind: info.kind,
      objects: info.objects,
      statement: info.normalized,
      encrypted: this.tls && this.l.upstreamEncrypted,
      ...(info.tags ? { tags: info.tags } : {}),
      ...(verdict.readsMasked ? { readsMasked: true } : {}),
      // A decision that depends on what the statement reads is cached with its verdict, not its text alone.
    }, verdict === NO_VERDICT ? info : info === analyzed ? verdict : undefined);
  }

  /**
   * What a shared statement is keyed by besides its text: the role and the settings that change how it resolves
   * (statementContext). Remembered until the settings change: drivers Parse on every call (node-postgres' unnamed
   * statements), and rebuilding it was a sort and a join per Parse.
   */
  private statementScope(): string {
    return (this.scope ??= `${this.role}\u0000${statementContext(this.settings)}`);
  }

  /** The session's search_path setting text (null: the server's default). */
  private searchPath(): string | null {
    return this.settings.get('search_path') ?? null;
  }

  /**
   * Why this statement may not run (policy, lineage, quota, unmaskable COPY), as an ErrorResponse; null when it may.
   */
  private refusal(op: Operation, info: StatementInfo, verdict: LineageVerdict = NO_VERDICT): Buffer | null {
    if (!op.denied && verdict.refusal !== null) {
      op.denyBy(LINEAGE_RULE, verdict.refusal);
    }
    if (op.denied) {
      return be.errorResponse({
        severity: 'ERROR',
        code: SqlState.InsufficientPrivilege,
        message: op.decision.message ?? `dgf: ${info.operation} is not allowed for role ${this.role}`,
        ...(op.decision.ruleId ? { detail: `policy rule ${op.decision.ruleId}` } : {}),
      });
    }
    if (info.kind === 'write' || info.kind === 'ddl') {
      const q = this.l.gov.quota.checkWrite();
      if (!q.ok) {
        return be.errorResponse({
          severity: 'ERROR',
          code: SqlState.DiskFull,
          message: q.message ?? 'dgf: storage quota exceeded: writes are refused, reads are still served',
        });
      }
    }
    return null;
  }

  private onQuery(buf: Buffer, start: number, body: number, end: number, afterRefresh = false): void {
    const tooLarge = this.tooLarge(end - body);
    if (tooLarge) {
      this.refuseQuery(tooLarge);
      return;
    }
    const sql = readCString(buf, body, end);
    const infos = analyzeStatement(sql);
    const ops: Operation[] = new Array(infos.length);
    let refused: Buffer | null = null;
    let copyMaskers: Array<CopyOutMasker | null> | null = null;
    const verdicts = this.lineage.verdicts(sql, infos.length, this.l.gov.policy(), this.role, this.searchPath());
    if (verdicts !== null && !afterRefresh && this.queue.length === 0 && verdicts.some((v) => v.catalogMiss && !this.lineage.onlyTempRelations(v))) {
      // A relation the catalog does not know may be a view created behind dgf's back: learn what it is first.
      const copy = Buffer.from(buf.subarray(start, end));
      this.refreshCatalogThen(() => this.onQuery(copy, 0, body - start, copy.length, true));
      return;
    }
    for (let i = 0; i < infos.length; i++) {
      const info = infos[i]!;
      const verdict = verdicts?.[i] ?? NO_VERDICT;
      const op = (ops[i] = this.begin(info, verdict));
      if (refused) continue;
      refused = this.refusal(op, info, verdict);
      if (!refused && info.copy?.direction === 'to') {
        const copyMasker = CopyOutMasker.build(info, this.l.catalog, this.l.gov.policy(), this.role, op, this.l.gov, verdict);
        (copyMaskers ??= new Array<CopyOutMasker | null>(infos.length).fill(null))[i] = copyMasker;
        if (copyMasker.refusal) {
          refused = be.errorResponse({ severity: 'ERROR', code: SqlState.InsufficientPrivilege, message: copyMasker.refusal });
        }
      }
    }
    if (refused) {
      const why = fieldsOf(refused);
      for (const op of ops) this.finishQuietly(op, { error: op.denied ? why : `not executed: ${why}` });
      this.refuseQuery(refused);
      return;
    }
    for (const info of infos) {
      if (info.session && PINNING.has(info.session)) this.pin();
      if (info.session === 'temp-table') this.lineage.createdTemp(info.objects[0]);
    }
    this.keepIntents(ops);
    if (!this.conn) {
      const idle = this.l.pool.takeIdleNow(this.database);
      if (idle) this.adopt(idle);
      else this.tryFollow(infos, copyMaskers);
    }
    if (this.conn) {
      this.forwardQuery(buf, start, end, ops, infos, copyMaskers, verdicts);
      return;
    }
    this.withConn(
      () => this.forwardQuery(buf, start, end, ops, infos, copyMaskers, verdicts),
      (err) => {
        const pe = err instanceof ProtocolError ? err : new ProtocolError(`dgf: cannot reach the upstream database: ${(err as Error).message}`, SqlState.ConnectionFailure);
        for (const op of ops) this.finishQuietly(op, { error: pe.message });
        this.emit(be.errorResponse({ severity: 'ERROR', code: pe.code, message: pe.message }));
        this.emit(be.readyForQuery(this.txStatus));
      },
    );
  }

  /** Answer a simple Query with `refused` (an ErrorResponse) without running it. */
  private refuseQuery(refused: Buffer): void {
    if (this.conn && this.txStatus !== 'I') {
      // Inside a transaction a refused statement must fail it, as a real error would.
      const e = new Entry('query');
      e.deny = refused;
      this.send(fe.query(POISON_SQL));
      this.enqueue(e);
    } else {
      this.answer(Buffer.concat([refused, be.readyForQuery(this.txStatus)]));
    }
  }

  /**
   * The refusal (recorded as a denial) of a statement of `bytes` bytes when that is more than the listener analyzes:
   * libpg-query parses on the event loop, in WebAssembly memory that never shrinks, and a few MB of `SELECT 1,1,...`
   * took seconds and GBs (measured: 2 MB -> 3.7 s and +1.3 GB RSS; 8 MB hung the proxy). Null when it may be analyzed.
   */
  private tooLarge(bytes: number): Buffer | null {
    const max = this.l.maxStatementBytes;
    if (max <= 0 || bytes <= max) return null;
    const message = `dgf: this statement is ${bytes} bytes, more than the ${max} bytes dgf analyzes (the listener's options.maxStatementBytes)`;
    const op = this.begin(TOO_LARGE_INFO);
    if (!op.denied) op.denyBy(TOO_LARGE_RULE, message);
    this.finishQuietly(op, { error: message });
    return be.errorResponse({ severity: 'ERROR', code: SqlState.ProgramLimitExceeded, message });
  }

  private forwardQuery(
    buf: Buffer,
    start: number,
    end: number,
    ops: Operation[],
    infos: readonly StatementInfo[],
    copyMaskers: Array<CopyOutMasker | null> | null,
    verdicts: readonly LineageVerdict[] | null,
  ): void {
    const e = new Entry('query');
    e.ops = ops;
    e.infos = infos;
    e.verdicts = verdicts;
    e.copyMaskers = copyMaskers;
    if (this.following) {
      e.resend = Buffer.from(buf.subarray(start, end));
      e.cancelsAtSend = this.conn!.cancels;
    }
    this.forwardFrame(buf, start, end);
    this.enqueue(e);
    // An owner whose only work in flight is this Query lets other clients' Queries queue behind it.
    if (!this.following && this.queue.length === 1 && this.mayPipeline() && pipelinable(infos, copyMaskers)) this.conn!.pipelinable = true;
  }

  private pin(): void {
    if (this.l.config.pool === 'transaction' && !this.pinned) {
      this.pinned = true;
      this.l.gov.logger.debug({ user: this.user }, 'client pinned to its upstream connection (session-level feature used)');
    }
  }

  private onParse(buf: Buffer, start: number, body: number, end: number, afterRefresh = false): void {
    const tooLarge = this.tooLarge(end - body);
    if (tooLarge) {
      this.withConn(() => this.refuseExtended(tooLarge), this.extendedAcquireFailed);
      return;
    }
    const m = readParse(buf, body, end);
    if (!afterRefresh && this.queue.length === 0) {
      // Drivers send Parse and Bind together: a relation the catalog does not know is looked up here, before both.
      const verdict = this.lineage.verdictOf(m.query, this.l.gov.policy(), this.role, this.searchPath());
      if (verdict.catalogMiss && !this.lineage.onlyTempRelations(verdict)) {
        const copy = Buffer.from(buf.subarray(start, end));
        this.refreshCatalogThen(() => this.onParse(copy, 0, body - start, copy.length, true));
        return;
      }
    }
    // Per settings context too: the same text names other relations under another search_path.
    const shared = this.l.statementFor(m.query, m.paramTypes, this.statementScope());
    const stmt: ClientStatement = {
      name: m.name,
      shared,
      sql: m.query,
      paramTypes: m.paramTypes,
      serverName: m.name === '' ? '' : shared.serverName,
      infos: shared.infos,
      columns: null,
      described: null,
      fresh: true,
    };
    if (!this.conn && shared.validated && m.name !== '') {
      // Known good text: no connection needed until Bind. Drivers that prepare synchronously (libpq's PQprepare
      // in pgbench -M prepared) would otherwise wait for a connection held by a client that waits for them.
      this.statements.set(m.name, stmt);
      this.answer(be.parseComplete);
      return;
    }
    this.withConn(() => this.parseOn(stmt, buf, start, end), this.extendedAcquireFailed);
  }

  private parseOn(stmt: ClientStatement, buf: Buffer, start: number, end: number): void {
    this.statements.set(stmt.name, stmt);
    const conn = this.conn!;
    const e = new Entry('parse');
    e.stmt = stmt;
    stmt.fresh = false;
    if (stmt.name === '') {
      this.forwardFrame(buf, start, end);
      conn.unnamed = stmt;
    } else {
      if (conn.prepared.has(stmt.serverName)) this.closeServerStatement(stmt.serverName);
      conn.prepared.set(stmt.serverName, false);
      conn.described.delete(stmt.serverName);
      e.serverName = stmt.serverName;
      this.send(fe.parse(stmt.serverName, stmt.sql, stmt.paramTypes));
    }
    this.enqueue(e);
  }

  /** Describe of a statement whose description dgf already holds, with no connection: answer it locally. */
  private describeLocally(buf: Buffer, body: number, end: number): boolean {
    const m = readTarget(buf, body, end);
    if (m.target !== 'S') return false;
    const stmt = this.statements.get(m.name);
    const sh = stmt?.shared;
    // Not for a statement just parsed: its description may have changed upstream since dgf took it (DDL elsewhere).
    if (!stmt || stmt.fresh || !sh || !sh.paramDesc || !sh.rowDesc || sh.epoch !== this.l.describeEpoch) return false;
    stmt.columns = sh.rowDesc[0] === BackendCode.NoData ? [] : columnsOf(sh.rowDesc);
    stmt.described = sh.rowDesc;
    this.answer(Buffer.concat([sh.paramDesc, sh.rowDesc]));
    return true;
  }

  /**
   * A statement the client described decodes its rows by that description: on this connection they must have that
   * shape, else the Bind gets PostgreSQL's own answer (0A000, as on the client's own connection after DDL or a
   * search_path change) instead of rows the driver would misread. When this connection's version of the statement
   * was never described (re-Parsed here, or prepared by another client), it is described first and the client's
   * messages wait for the answer; then `retry` runs the Bind again (`checked`: no second wait).
   */
  private resultMatches(stmt: ClientStatement, buf: Buffer, start: number, body: number, end: number, afterRefresh: boolean, checked: boolean): boolean {
    const conn = this.conn!;
    const here = conn.prepared.has(stmt.serverName) ? conn.described.get(stmt.serverName) : undefined;
    if (here === undefined) {
      if (checked) return true;
      // Copied only here, off the hot path: the Bind runs again once the description is in.
      const copy = Buffer.from(buf.subarray(start, end));
      const retry = (): void => this.onBind(copy, 0, body - start, copy.length, afterRefresh, true);
      this.ensurePrepared(stmt);
      const d = new Entry('describe');
      d.swallow = true;
      d.stmt = stmt;
      d.then = retry;
      this.send(fe.target(FrontendCode.Describe, 'S', stmt.serverName));
      // PostgreSQL holds extended-protocol replies until Sync or Flush; the client's Sync is among what waits.
      this.send(fe.flush);
      this.enqueue(d);
      this.blocked = true;
      return false;
    }
    if (here === stmt.described || here.equals(stmt.described!)) return true;
    // Whatever dgf holds of this text's description may be as old: the client's next Describe goes upstream.
    stmt.shared.paramDesc = stmt.shared.rowDesc = null;
    this.refuseExtended(be.errorResponse(CACHED_PLAN_CHANGED));
    return false;
  }

  /** The describe `resultMatches` waited for is answered (or skipped): read the client's messages again. */
  private releaseHold(e: Entry): void {
    const then = e.then;
    if (!then) return;
    e.then = null;
    queueMicrotask(() => {
      if (this.state === 'closed') return;
      this.blocked = false;
      this.out.cork();
      try {
        if (this.conn) then();
        else this.withConn(then, this.extendedAcquireFailed);
      } catch (err) {
        this.fail(err);
      }
      this.flushRun();
      this.out.uncork();
      if (!this.blocked) this.unblock();
    });
  }

  /**
   * PostgreSQL refused a shared statement's stale plan (`0A000 cached plan must not change result type`, after DDL
   * or a search_path change): clients that parse the text from now on get it under a new server name, so a fresh
   * plan, as a fresh Parse gets directly. This client keeps the old name and PostgreSQL's answer.
   */
  private renewIfStale(stmt: ClientStatement | null, buf: Buffer, start: number, end: number): void {
    if (!stmt || stmt.serverName === '' || errorFields(buf.subarray(start, end)).code !== CACHED_PLAN_CHANGED.code) return;
    const sh = stmt.shared;
    if (sh.serverName === stmt.serverName) sh.serverName = renewedName(sh.serverName);
    sh.validated = false;
    sh.paramDesc = sh.rowDesc = null;
  }

  /** Close a shared server statement on the current connection (dgf's own message: its CloseComplete is dropped). */
  private closeServerStatement(serverName: string): void {
    const c = new Entry('close');
    c.swallow = true;
    this.conn!.prepared.delete(serverName);
    this.conn!.described.delete(serverName);
    this.send(fe.target(FrontendCode.Close, 'S', serverName));
    this.enqueue(c);
  }

  /** Make sure the statement exists on the current connection (prepared there by someone, or re-Parse it now). */
  private ensurePrepared(stmt: ClientStatement): void {
    const conn = this.conn!;
    if (stmt.name === '') {
      if (conn.unnamed === stmt) return;
      conn.unnamed = stmt;
    } else {
      if (conn.prepared.has(stmt.serverName)) {
        if (!stmt.fresh) return;
        this.closeServerStatement(stmt.serverName);
      }
      stmt.fresh = false;
      conn.prepared.set(stmt.serverName, false);
      conn.described.delete(stmt.serverName);
    }
    const e = new Entry('parse');
    e.swallow = true;
    e.stmt = stmt;
    e.serverName = stmt.name === '' ? null : stmt.serverName;
    this.send(fe.parse(stmt.serverName, stmt.sql, stmt.paramTypes));
    this.enqueue(e);
  }

  private onBind(buf: Buffer, start: number, body: number, end: number, afterRefresh = false, checked = false): void {
    const m = readBind(buf, body, end);
    const stmt = this.statements.get(m.statement) ?? null;
    const portal: Portal = {
      stmt,
      info: stmt?.infos[0] ?? null,
      op: null,
      formats: m.resultFormats,
      columns: null,
      masker: undefined,
      copyMasker: null,
      verdict: NO_VERDICT,
      rows: 0,
      sentAt: 0,
      describing: false,
    };
    this.closePortal(m.portal);
    if (!stmt) {
      // Only statements this client parsed through dgf may be bound: another client's server-side name, or a SQL
      // PREPAREd one, would run something dgf never traced. Answered as PostgreSQL answers an unknown name.
      this.refuseExtended(unknownStatement(m.statement));
      return;
    }
    if (stmt.described && stmt.name !== '' && !this.errorSkip && !this.resultMatches(stmt, buf, start, body, end, afterRefresh, checked)) return;
    if (portal.info) {
      const verdict = (portal.verdict = this.lineage.verdictOf(stmt.sql, this.l.gov.policy(), this.role, this.searchPath()));
      if (verdict.catalogMiss && !afterRefresh && this.queue.length === 0 && !this.lineage.onlyTempRelations(verdict)) {
        // As for a simple Query: a relation the catalog does not know is looked up before the statement runs.
        const copy = Buffer.from(buf.subarray(start, end));
        this.refreshCatalogThen(() => this.onBind(copy, 0, body - start, copy.length, true));
        return;
      }
    }
    this.portals.set(m.portal, portal);
    const e = new Entry('bind');
    e.portal = portal;
    this.ensurePrepared(stmt);
    const info = portal.info;
    if (info) {
      if (info.session && PINNING.has(info.session)) this.pin();
      const policy = this.l.gov.policy();
      const verdict = portal.verdict;
      const op = this.begin(info, verdict);
      let refused = this.refusal(op, info, verdict);
      if (!refused && info.copy?.direction === 'to') {
        portal.copyMasker = CopyOutMasker.build(info, this.l.catalog, policy, this.role, op, this.l.gov, verdict);
        if (portal.copyMasker.refusal) refused = be.errorResponse({ severity: 'ERROR', code: SqlState.InsufficientPrivilege, message: portal.copyMasker.refusal });
      }
      if (refused) {
        this.finishQuietly(op, { error: fieldsOf(refused) });
        this.portals.delete(m.portal);
        this.refuseExtended(refused);
        return;
      }
      portal.op = op;
      this.keepIntent(op);
    }
    if (stmt.serverName === stmt.name) this.forwardFrame(buf, start, end);
    else this.send(fe.renameInFrame(buf, start, end, m.statementStart, m.statementNul, stmt.serverName));
    this.enqueue(e);
  }

  private onDescribe(buf: Buffer, start: number, body: number, end: number): void {
    const m = readTarget(buf, body, end);
    const e = new Entry('describe');
    if (m.target === 'S') {
      const stmt = this.statements.get(m.name);
      if (!stmt) {
        this.refuseExtended(unknownStatement(m.name));
        return;
      }
      e.stmt = stmt;
      this.ensurePrepared(stmt);
      if (stmt.serverName === stmt.name) this.forwardFrame(buf, start, end);
      else this.send(fe.target(FrontendCode.Describe, 'S', stmt.serverName));
    } else {
      const portal = this.portals.get(m.name);
      if (!portal) {
        this.refuseExtended(unknownPortal(m.name));
        return;
      }
      e.portal = portal;
      portal.describing = true;
      this.forwardFrame(buf, start, end);
    }
    this.enqueue(e);
  }

  /**
   * Answer an extended-protocol message with `error` without running it: a poison Parse puts the upstream into the
   * same error state (the implicit transaction fails, messages up to Sync are skipped) and dgf shows `error` instead.
   */
  private refuseExtended(error: Buffer): void {
    const poison = new Entry('parse');
    poison.deny = error;
    this.conn!.unnamed = null;
    this.send(fe.parse('', POISON_SQL, []));
    this.enqueue(poison);
  }

  private onExecute(buf: Buffer, start: number, body: number, end: number): void {
    const m = readExecute(buf, body, end);
    const portal = this.portals.get(m.portal) ?? null;
    if (!portal) {
      this.refuseExtended(unknownPortal(m.portal));
      return;
    }
    if (portal?.op && !portal.columns && !portal.describing && !portal.stmt?.columns && portal.masker === undefined) {
      // The driver did not describe this result (postgres.js after a Describe of another connection's statement):
      // ask for the row description, for masking, without showing it to the client.
      const d = new Entry('describe');
      d.swallow = true;
      d.portal = portal;
      this.send(fe.target(FrontendCode.Describe, 'P', m.portal));
      this.enqueue(d);
    }
    if (portal && portal.sentAt === 0) portal.sentAt = performance.now();
    const e = new Entry('execute');
    e.portal = portal;
    this.forwardFrame(buf, start, end);
    this.enqueue(e);
  }

  private onClose(buf: Buffer, start: number, body: number, end: number): void {
    const m = readTarget(buf, body, end);
    if (m.target === 'S') {
      // Server statements are shared and stay prepared; the client's name simply goes away.
      this.statements.delete(m.name);
      this.answer(be.closeComplete);
      return;
    }
    this.closePortal(m.name);
    if (!this.conn) {
      this.answer(be.closeComplete);
      return;
    }
    this.forwardFrame(buf, start, end);
    this.enqueue(new Entry('close'));
  }

  private onSync(buf: Buffer, start: number, end: number): void {
    if (this.localSkip || !this.conn) {
      this.localSkip = false;
      this.answer(be.readyForQuery(this.txStatus));
      return;
    }
    this.forwardFrame(buf, start, end);
    this.enqueue(new Entry('sync'));
  }

  private closePortal(name: string): void {
    const p = this.portals.get(name);
    if (!p) return;
    this.portals.delete(name);
    if (p.op) this.finishQuietly(p.op, { rows: p.rows });
  }

  // ---------------------------------------------------------------- upstream replies

  private pumpUpstream(): void {
    const conn = this.conn;
    if (!conn) return;
    const d = conn.decoder;
    this.out.cork();
    try {
      // Ownership can move inside the loop (hand-over to a pipelined follower): stop reading then.
      while (this.conn === conn && conn.owner === this && d.next()) this.onReply(conn, d.code, d.buffer, d.start, d.end);
    } catch (err) {
      this.out.uncork();
      this.scheduleFinishes();
      this.flushRun();
      this.l.gov.logger.error({ err }, 'postgres: failed on an upstream reply');
      if (this.conn === conn) {
        this.conn = null;
        conn.owner = null;
        this.l.pool.release(conn, 'destroy');
      }
      const pe = err instanceof ProtocolError ? err : null;
      this.closeWith(be.errorResponse({ severity: 'FATAL', code: pe?.code ?? SqlState.InternalError, message: pe?.message ?? 'dgf: could not process the upstream reply' }));
      return;
    }
    this.flushRun();
    this.out.uncork();
    this.scheduleFinishes();
    if (!this.out.writable && this.conn === conn) conn.pause();
  }

  /** The entry replies belong to; local answers at the head are sent first. */
  private head(): Entry | undefined {
    let e = this.queue[0];
    while (e && e.kind === 'synthetic') {
      this.emit(e.synthetic!);
      this.queue.shift();
      e = this.queue[0];
    }
    return e;
  }

  private done(): void {
    this.queue.shift();
    this.head();
  }

  private onReply(conn: UpstreamConnection, code: number, buf: Buffer, start: number, end: number): void {
    if (
      (code === BackendCode.ErrorResponse || code === BackendCode.NoticeResponse || code === BackendCode.NotificationResponse || code === BackendCode.ParameterStatus) &&
      this.l.gov.policy().masksAnyFor(this.role)
    ) {
      // Errors and notices echo values (`invalid input syntax for type integer: "alice@..."`, `Key (email)=(...)`):
      // scrubbed before anything else reads them, so the audit record keeps the scrubbed text only.
      const frame = buf.subarray(start, end);
      const scrubbed = this.scrub(code, frame);
      if (scrubbed !== frame) {
        buf = scrubbed;
        start = 0;
        end = scrubbed.length;
      }
    }
    if (code === BackendCode.NoticeResponse || code === BackendCode.NotificationResponse) {
      if (!this.queue[0]?.swallow) this.forward(buf, start, end);
      return;
    }
    if (code === BackendCode.ParameterStatus) {
      conn.trackParameterStatus();
      if (!this.queue[0]?.swallow) this.forward(buf, start, end);
      return;
    }
    const e = this.head();
    if (!e) {
      // Nothing expected: only a FATAL error (the server terminating) makes sense here.
      if (code === BackendCode.ErrorResponse) this.forward(buf, start, end);
      return;
    }
    switch (e.kind) {
      case 'parse':
        if (code === BackendCode.ParseComplete) {
          if (e.serverName) conn.prepared.set(e.serverName, true);
          if (e.stmt) e.stmt.shared.validated = true;
          if (!e.swallow) this.forward(buf, start, end);
          this.done();
        } else if (code === BackendCode.ErrorResponse) {
          if (e.serverName) conn.prepared.delete(e.serverName);
          if (e.stmt && conn.unnamed === e.stmt) conn.unnamed = null;
          this.extendedError(e, buf, start, end);
        }
        return;
      case 'bind':
        if (code === BackendCode.BindComplete) {
          this.forward(buf, start, end);
          this.done();
        } else if (code === BackendCode.ErrorResponse) {
          const op = e.portal?.op;
          if (op) {
            this.finishQuietly(op, { error: errorFields(buf.subarray(start, end)).message });
            e.portal!.op = null;
          }
          this.renewIfStale(e.portal?.stmt ?? null, buf, start, end);
          this.extendedError(e, buf, start, end);
        }
        return;
      case 'describe':
        if (code === BackendCode.ParameterDescription) {
          if (e.stmt && !e.portal) e.paramDesc = buf.subarray(start, end);
          if (!e.swallow) this.forward(buf, start, end);
        } else if (code === BackendCode.RowDescription || code === BackendCode.NoData) {
          const cols = code === BackendCode.NoData ? [] : columnsOf(buf.subarray(start, end));
          if (e.portal) e.portal.columns = cols;
          else if (e.stmt) {
            const frame = Buffer.from(buf.subarray(start, end));
            if (e.stmt.serverName !== '') conn.described.set(e.stmt.serverName, frame);
            if (!e.then) {
              e.stmt.columns = cols;
              if (!e.swallow) e.stmt.described = frame;
            }
            if (e.paramDesc) {
              const sh = e.stmt.shared;
              sh.paramDesc = Buffer.from(e.paramDesc);
              sh.rowDesc = frame;
              sh.epoch = this.l.describeEpoch;
            }
          }
          if (!e.swallow) this.forward(buf, start, end);
          this.done();
          this.releaseHold(e);
        } else if (code === BackendCode.ErrorResponse) {
          this.renewIfStale(e.stmt, buf, start, end);
          this.extendedError(e, buf, start, end);
          this.releaseHold(e);
        }
        return;
      case 'close':
        if (code === BackendCode.CloseComplete) {
          if (!e.swallow) this.forward(buf, start, end);
          this.done();
        } else if (code === BackendCode.ErrorResponse) {
          this.extendedError(e, buf, start, end);
        }
        return;
      case 'sync':
        if (code === BackendCode.ReadyForQuery) this.readyForQuery(conn, e, buf, start, end);
        else if (code === BackendCode.ErrorResponse) this.forward(buf, start, end);
        return;
      case 'execute':
        this.executeReply(conn, e, code, buf, start, end);
        return;
      case 'query':
        this.queryReply(conn, e, code, buf, start, end);
        return;
      default:
        return;
    }
  }

  /** A backend error, notice, notification or parameter status as this role may see it. */
  private scrub(code: number, frame: Buffer): Buffer {
    const policy = this.l.gov.policy();
    const e = this.queue[0];
    let verdict: LineageVerdict | undefined;
    let stats: MaskStats | undefined;
    if (e?.kind === 'query' && e.ops && e.ops.length > 0) {
      const i = Math.min(e.index, e.ops.length - 1);
      verdict = e.verdicts?.[i];
      stats = e.ops[i];
    } else if (e?.portal) {
      verdict = e.portal.verdict;
      stats = e.portal.op ?? undefined;
    }
    const base = { policy, role: this.role, stats: stats ?? new MaskTally() };
    if (code === BackendCode.NotificationResponse) {
      // Not tied to a statement of this client, and no column's value (a masked role's own pg_notify of masked data
      // is refused as a sink): free text, read like an unclassified column, by detectors and JSON keys.
      return scrubNotification(frame, { ...base, sourceLabels: [] });
    }
    if (code === BackendCode.ParameterStatus) return scrubParameterStatus(frame, { ...base, sourceLabels: [] });
    const sourceLabels = !verdict ? [] : verdict.maskedLabels.length > 0 ? verdict.maskedLabels : verdict.readsMasked ? UNTRACED_ONLY : [];
    return scrubBackendNotice(frame, { ...base, sourceLabels, labelsOfColumn: (_table, column) => policy.labelsForName(column) });
  }

  private readyForQuery(conn: UpstreamConnection, e: Entry, buf: Buffer, start: number, end: number): void {
    const status = String.fromCharCode(buf[start + 5]!) as be.TxStatus;
    conn.txStatus = status;
    if (e.kind === 'sync') this.errorSkip = false;
    if (!e.swallow) {
      this.txStatus = status;
      this.forward(buf, start, end);
      if (status === 'I') this.transactionEnded();
    }
    this.done();
    if (this.queue.length === 0) this.maybeRelease();
  }

  /** Transaction over (committed, rolled back, or implicit): portals die, setting changes become the client's. */
  private transactionEnded(): void {
    this.lineage.transactionEnded();
    if (this.portals.size > 0) for (const name of [...this.portals.keys()]) this.closePortal(name);
    if (this.pendingSettings.length > 0) {
      for (const s of this.pendingSettings) this.applySetting(s.name, s.value);
      this.pendingSettings = [];
    }
  }

  private applySetting(name: string, value: string | null): void {
    if (name === 'all') {
      this.settings = new Map(this.startupSettings);
      this.scope = null;
      return;
    }
    if (value === null) {
      const initial = this.startupSettings.get(name);
      if (initial === undefined) this.settings.delete(name);
      else this.settings.set(name, initial);
      this.scope = null;
    } else {
      this.settings.set(name, value);
      this.scope = null;
    }
  }

  /** An ErrorResponse in extended mode: the server now skips every message up to Sync, so dgf drops their entries. */
  private extendedError(e: Entry, buf: Buffer, start: number, end: number): void {
    if (e.deny) this.emit(e.deny);
    else this.forward(buf, start, end);
    this.queue.shift();
    let i = 0;
    while (i < this.queue.length && this.queue[i]!.kind !== 'sync') {
      this.skipped(this.queue[i]!);
      i++;
    }
    this.queue.splice(0, i);
    if (i === this.queue.length) this.errorSkip = true;
    this.head();
  }

  /** Side effects of a message the server skipped. */
  private skipped(e: Entry): void {
    this.releaseHold(e);
    if (e.kind === 'parse' && e.serverName && this.conn?.prepared.get(e.serverName) === false) this.conn.prepared.delete(e.serverName);
    if (e.kind === 'parse' && e.stmt && this.conn?.unnamed === e.stmt) this.conn.unnamed = null;
    if (e.ops) for (let k = e.index; k < e.ops.length; k++) this.finishQuietly(e.ops[k]!, { error: 'not executed: an earlier message of the pipeline failed' });
    if (e.kind === 'bind' && e.portal?.op) {
      this.finishQuietly(e.portal.op, { error: 'not executed: an earlier message of the pipeline failed' });
      e.portal.op = null;
    }
  }

  private executeReply(conn: UpstreamConnection, e: Entry, code: number, buf: Buffer, start: number, end: number): void {
    const p = e.portal;
    switch (code) {
      case BackendCode.DataRow: {
        const masker = p?.op ? this.portalMasker(p) : null;
        if (masker && !masker.passthrough) {
          this.emit(masker.maskDataRow(buf.subarray(start, end)));
          p!.rows = p!.op!.rows;
        } else {
          if (p) p.rows++;
          this.forward(buf, start, end);
        }
        return;
      }
      case BackendCode.CommandComplete: {
        if (p?.op) {
          const op = p.op;
          p.op = null;
          this.statementDone(conn, p.info, buf, start, end);
          this.gateOn(op, { rows: rowsOf(buf, start, end, p.rows), upstreamMs: performance.now() - p.sentAt }, buf, start, end);
        } else {
          this.forward(buf, start, end);
        }
        this.done();
        return;
      }
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        if (code === BackendCode.EmptyQueryResponse && p?.op) {
          this.finishQuietly(p.op, { rows: 0 });
          p.op = null;
        }
        this.forward(buf, start, end);
        this.done();
        return;
      case BackendCode.ErrorResponse:
        if (p?.op) {
          this.finishQuietly(p.op, { error: errorFields(buf.subarray(start, end)).message, rows: p.rows });
          p.op = null;
        }
        this.copyIn = false;
        this.extendedError(e, buf, start, end);
        return;
      default:
        this.copyReply(e, p, code, buf, start, end);
    }
  }

  /**
   * The masker of a simple query's result shape. Shapes that need nothing for this role (no masking, no label to
   * record) are remembered by their RowDescription bytes, so the common case skips decoding and planning.
   */
  private rowMasker(op: Operation, verdict: LineageVerdict, buf: Buffer, start: number, end: number): RowMasker | null {
    const policy = this.l.gov.policy();
    const refreshedAt = this.l.catalog.refreshedAt;
    const verdictId = verdict.outputs ? verdict.id : 0;
    const last = this.lastPlainShape;
    // A client repeats its statements: the shape it saw last is compared in place, without building the key.
    if (
      last !== null && last.role === this.role && last.policy === policy.version && last.catalog === refreshedAt && last.verdict === verdictId &&
      last.bytes.length === end - start - 5 && last.bytes.compare(buf, start + 5, end) === 0
    ) {
      return null;
    }
    const key = `${this.role}\u0000${policy.version}\u0000${refreshedAt}\u0000${verdictId}\u0000${buf.toString('latin1', start + 5, end)}`;
    let plain = this.l.plainShapes.has(key);
    let masker: RowMasker | null = null;
    if (!plain) {
      const labelsBefore = op.seenLabels().length;
      masker = RowMasker.build(columnsOf(buf.subarray(start, end)), this.l.catalog, policy, this.role, op, this.l.gov, verdict);
      plain = masker.passthrough && op.seenLabels().length === labelsBefore;
      if (plain) {
        if (this.l.plainShapes.size >= 10_000) this.l.plainShapes.clear();
        this.l.plainShapes.add(key);
      }
    }
    if (!plain) return masker;
    // A copy: `buf` is the upstream's read buffer, reused for later reads.
    this.lastPlainShape = { role: this.role, policy: policy.version, catalog: refreshedAt, verdict: verdictId, bytes: Buffer.from(buf.subarray(start + 5, end)) };
    return null;
  }

  private portalMasker(p: Portal): RowMasker | null {
    if (p.masker !== undefined) return p.masker;
    const base = p.columns ?? p.stmt?.columns ?? null;
    if (!base) {
      p.masker = null;
      return null;
    }
    const cols = base.map((c, i) => ({ ...c, format: p.formats.length === 0 ? 0 : p.formats.length === 1 ? p.formats[0]! : (p.formats[i] ?? 0) }));
    p.masker = RowMasker.build(cols, this.l.catalog, this.l.gov.policy(), this.role, p.op!, this.l.gov, p.verdict);
    return p.masker;
  }

  private copyReply(e: Entry, p: Portal | null, code: number, buf: Buffer, start: number, end: number): void {
    switch (code) {
      case BackendCode.CopyInResponse:
        this.copyIn = true;
        this.forward(buf, start, end);
        return;
      case BackendCode.CopyData: {
        const masker = p ? p.copyMasker : e.copyMasker;
        if (masker && !masker.passthrough) this.emit(masker.maskCopyData(buf.subarray(start, end)));
        else this.forward(buf, start, end);
        return;
      }
      default:
        // CopyOutResponse, CopyDone, CopyBothResponse.
        this.forward(buf, start, end);
    }
  }

  private queryReply(conn: UpstreamConnection, e: Entry, code: number, buf: Buffer, start: number, end: number): void {
    if (e.swallow) {
      if (code === BackendCode.ReadyForQuery) {
        conn.txStatus = String.fromCharCode(buf[start + 5]!) as be.TxStatus;
        this.done();
        if (this.queue.length === 0) this.maybeRelease();
      } else if (code === BackendCode.ErrorResponse && !e.swallowErrors) {
        this.forward(buf, start, end);
      } else if (code === BackendCode.ErrorResponse) {
        // Which settings took is unknown now: this connection is closed instead of reused.
        conn.poisoned = true;
        this.l.gov.logger.warn({ error: errorFields(buf.subarray(start, end)).message }, 'replaying client settings on an upstream connection failed');
      }
      return;
    }
    if (e.rerun) {
      // The attempt a stray cancel ended: nothing of it reaches the client.
      if (code === BackendCode.ReadyForQuery) this.rerunQuery(conn, e, buf, start);
      return;
    }
    const ops = e.ops;
    const i = ops && ops.length > 0 ? Math.min(e.index, ops.length - 1) : -1;
    const op = i >= 0 && e.index < ops!.length ? ops![i]! : null;
    switch (code) {
      case BackendCode.RowDescription:
        e.started = true;
        e.rows = 0;
        e.masker = op ? this.rowMasker(op, e.verdicts?.[i] ?? NO_VERDICT, buf, start, end) : null;
        this.forward(buf, start, end);
        return;
      case BackendCode.DataRow:
        if (e.masker && !e.masker.passthrough) {
          this.emit(e.masker.maskDataRow(buf.subarray(start, end)));
        } else {
          e.rows++;
          this.forward(buf, start, end);
        }
        return;
      case BackendCode.CommandComplete: {
        const info = e.infos && i >= 0 ? e.infos[i]! : null;
        this.statementDone(conn, info, buf, start, end);
        if (op) this.gateOn(op, { rows: rowsOf(buf, start, end, e.masker && !e.masker.passthrough ? op.rows : e.rows), upstreamMs: performance.now() - e.sentAt }, buf, start, end);
        else this.forward(buf, start, end);
        e.index++;
        e.masker = null;
        e.copyMasker = null;
        e.rows = 0;
        return;
      }
      case BackendCode.EmptyQueryResponse:
        this.forward(buf, start, end);
        return;
      case BackendCode.ErrorResponse: {
        if (e.resend && !e.started && conn.cancels !== e.cancelsAtSend && errorFields(buf.subarray(start, end)).code === QUERY_CANCELED) {
          e.rerun = true;
          return;
        }
        const message = e.deny ? null : errorFields(buf.subarray(start, end)).message;
        if (ops) {
          for (let k = e.index; k < ops.length; k++) {
            this.finishQuietly(ops[k]!, { error: k === e.index ? message : `not executed: an earlier statement failed: ${message}` });
          }
          e.index = ops.length;
        }
        this.copyIn = false;
        if (e.deny) this.emit(e.deny);
        else this.forward(buf, start, end);
        return;
      }
      case BackendCode.CopyOutResponse:
        if (op) {
          const info = e.infos?.[i];
          e.copyMasker = e.copyMaskers?.[i] ?? (info ? CopyOutMasker.build(info, this.l.catalog, this.l.gov.policy(), this.role, op, this.l.gov, e.verdicts?.[i]) : null);
        }
        this.forward(buf, start, end);
        return;
      case BackendCode.ReadyForQuery:
        if (ops) for (let k = e.index; k < ops.length; k++) this.finishQuietly(ops[k]!, { rows: 0 });
        this.readyForQuery(conn, e, buf, start, end);
        return;
      default:
        this.copyReply(e, null, code, buf, start, end);
    }
  }

  /**
   * Run a follower's Query again after a cancel meant for the client ahead of it ended it (it had sent nothing to
   * its client yet). It goes to the back of the connection's line, behind the Queries sent since.
   */
  private rerunQuery(conn: UpstreamConnection, e: Entry, buf: Buffer, start: number): void {
    conn.txStatus = String.fromCharCode(buf[start + 5]!) as be.TxStatus;
    e.rerun = false;
    e.cancelsAtSend = conn.cancels;
    e.index = 0;
    e.rows = 0;
    e.masker = null;
    this.l.gov.logger.debug({ user: this.user }, 'query ended by a cancel meant for another client: run again');
    conn.write(e.resend!);
    if (conn.followers.length > 0) {
      this.following = true;
      conn.followers.push(this);
      passTurn(conn, this.l.pool);
    }
  }

  /** Effects of a completed statement on the session and the connection (settings, DDL, resets). */
  private statementDone(conn: UpstreamConnection, info: StatementInfo | null, buf: Buffer, start: number, end: number): void {
    if (!info) return;
    if (info.kind === 'ddl') {
      conn.needsCatalogRefresh = true;
      this.l.describeEpoch++;
    }
    if (info.setting && !info.setting.local) {
      const { name, value } = info.setting;
      this.pendingSettings.push({ name, value });
      if (name === 'all') conn.applied.clear();
      else if (value === null) conn.applied.delete(name);
      else conn.applied.set(name, value);
    }
    if (info.transaction === 'rollback' || info.transaction === 'commit') {
      const tag = buf.toString('latin1', start + 5, end - 1);
      if (tag === 'ROLLBACK' && this.pendingSettings.length > 0) {
        // The transaction's SETs are undone upstream too; mark them unknown so the next client re-applies.
        for (const s of this.pendingSettings) conn.applied.set(s.name, '\u0000rolled back');
        this.pendingSettings = [];
      }
    }
    if (info.session === 'discard' || info.session === 'deallocate') {
      const tag = buf.toString('latin1', start + 5, end - 1);
      if (tag === 'DISCARD ALL' || tag === 'DEALLOCATE ALL') {
        conn.prepared.clear();
        conn.unnamed = null;
        this.statements.clear();
        if (tag === 'DISCARD ALL') {
          conn.applied.clear();
          this.settings = new Map(this.startupSettings);
          this.scope = null;
          this.pendingSettings = [];
        }
      }
    }
  }

  /** Hold the CommandComplete (and everything after it) until the audit record is kept. */
  private gateOn(op: Operation, result: { rows: number; upstreamMs: number }, buf: Buffer, start: number, end: number): void {
    if (op.hasIntent || this.l.gov.audit.failMode === 'open') {
      // Nothing waits for the outcome record (its intent was kept before the statement went upstream; in open
      // mode nothing waits at all): keep the reply in the same write as the rows before it.
      this.finishes.push({ op, result, resolve: null, reject: null });
      this.forward(buf, start, end);
      return;
    }
    this.flushRun();
    const complete = buf.subarray(start, end);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const kept = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.finishes.push({ op, result, resolve, reject });
    this.out.gate(kept, complete, (err) => {
      this.l.gov.logger.error({ err }, 'audit record could not be kept: result withheld');
      return be.errorResponse({
        severity: 'ERROR',
        code: SqlState.AuditUnavailable,
        message: 'dgf: the audit record of this statement could not be kept (audit failMode closed); its result is withheld',
      });
    });
  }

  /**
   * Audit records of statements completed in the last upstream chunk. They are written after the chunk is handled,
   * once the connection went back to the pool and the next waiting client's statement went out: the record's
   * hashing and the metrics then run outside the time a connection is held.
   */
  private scheduleFinishes(): void {
    if (this.finishes.length === 0 || this.finishScheduled) return;
    this.finishScheduled = true;
    queueMicrotask(this.runFinishes);
  }

  private readonly runFinishes = (): void => {
    this.finishScheduled = false;
    const list = this.finishes;
    this.finishes = [];
    for (const f of list) {
      const p = f.op.finish(f.result);
      if (f.resolve) p.then(f.resolve, f.reject!);
      else p.catch((err: unknown) => this.l.gov.logger.error({ err }, 'audit record could not be kept'));
    }
  };

  private finishQuietly(op: Operation, result: FinishResult): void {
    if (this.finishes.length > 0) {
      // Keep the audit order of the statements: earlier ones are still queued.
      this.finishes.push({ op, result, resolve: null, reject: null });
      this.scheduleFinishes();
      return;
    }
    op.finish(result).catch((err: unknown) => this.l.gov.logger.error({ err }, 'audit record could not be kept'));
  }

  // ---------------------------------------------------------------- output

  /** Forward the current upstream frame untouched, coalescing consecutive frames into one slice. */
  private forward(buf: Buffer, start: number, end: number): void {
    if (this.runBuf === buf && this.runEnd === start) {
      this.runEnd = end;
      return;
    }
    this.flushRun();
    this.runBuf = buf;
    this.runStart = start;
    this.runEnd = end;
  }

  private flushRun(): void {
    const b = this.runBuf;
    if (!b) return;
    this.runBuf = null;
    this.out.write(b.subarray(this.runStart, this.runEnd));
  }

  private emit(buf: Buffer): void {
    this.flushRun();
    this.out.write(buf);
  }

  // ---------------------------------------------------------------- teardown

  private teardown(reason: string | null): void {
    this.clearAuthTimer();
    if (this.state === 'closed' && !this.opened && !this.conn) {
      this.l.sessions.delete(this.processId);
      return;
    }
    this.state = 'closed';
    this.blocked = true;
    this.l.sessions.delete(this.processId);
    if (this.opened) {
      this.opened = false;
      this.l.gov.clientClosed();
    }
    const conn = this.conn;
    if (conn && this.following) {
      // Still queued behind another client: a drain reads this Query's replies when its turn comes.
      this.conn = null;
      this.owedAtTurn = this.repliesOwed();
    } else if (conn && conn.followers.length > 0) {
      // Other clients' Queries are queued behind this one's: drain this one's replies, then pass the connection on.
      this.conn = null;
      new PipelineDrain(this.l.pool, this.repliesOwed()).start(conn);
    } else if (conn) {
      this.conn = null;
      conn.owner = null;
      let mode: ReleaseMode;
      if (this.queue.length > 0 || this.copyIn) mode = 'destroy';
      else if (this.pinned || this.l.config.pool === 'session' || this.lineage.takeLeftState()) mode = 'discard';
      else if (this.txStatus !== 'I' || conn.txStatus !== 'I') mode = 'rollback';
      else mode = 'clean';
      conn.resume();
      this.l.pool.release(conn, mode);
    }
    const why = reason ?? 'connection closed';
    for (const e of this.queue) {
      if (e.ops) for (let k = e.index; k < e.ops.length; k++) this.finishQuietly(e.ops[k]!, { error: why });
    }
    this.queue.length = 0;
    for (const [name, p] of this.portals) {
      if (p.op) this.finishQuietly(p.op, { error: why, rows: p.rows });
      this.portals.delete(name);
    }
  }

  /** ReadyForQuery messages still to come for what this client has in flight (one per Query). */
  private repliesOwed(): number {
    let n = 0;
    for (const e of this.queue) if (e.kind === 'query') n++;
    return n;
  }

  /** Debug snapshot. */
  debugState(): Record<string, unknown> {
    return { buffered: this.decoder.buffered, state: this.state, user: this.user, conn: this.conn?.id ?? null, blocked: this.blocked, queue: this.queue.map((e) => e.kind + (e.swallow ? '*' : '')), following: this.following, tx: this.txStatus, errorSkip: this.errorSkip, localSkip: this.localSkip, held: this.out.held, paused: this.socket.isPaused() };
  }

  /** For listener shutdown: close a client that is idle between transactions. */
  closeIfIdle(): boolean {
    if (this.state === 'ready' && this.queue.length === 0 && this.txStatus === 'I' && !this.out.held) {
      this.closeWith(be.errorResponse({ severity: 'FATAL', code: SqlState.AdminShutdown, message: 'terminating connection due to administrator command' }));
      return true;
    }
    return this.state === 'closed';
  }
}

function columnsOf(frame: Buffer): ColumnInfo[] {
  const m = decodeBackend(frame) as RowDescriptionMessage;
  return m.fields.map((f) => ({ name: f.name, tableOid: f.tableID, columnAttr: f.columnID, typeOid: f.dataTypeID, format: f.format === 'binary' ? 1 : 0 }));
}

/** Rows reported by a CommandComplete tag ('SELECT 5', 'INSERT 0 5', 'UPDATE 3'), else the counted rows. */
function rowsOf(buf: Buffer, start: number, end: number, counted: number): number {
  let p = end - 2;
  let n = 0;
  let mul = 1;
  while (p > start + 5 && buf[p]! >= 0x30 && buf[p]! <= 0x39) {
    n += (buf[p]! - 0x30) * mul;
    mul *= 10;
    p--;
  }
  return mul > 1 && buf[p] === 0x20 ? n : counted;
}

function fieldsOf(errorFrame: Buffer): string {
  return errorFields(errorFrame).message;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** The server reports normalized values; clients such as libpq compare some of them. */
function normalizeParam(name: string, value: string): string {
  if (name === 'client_encoding' && /^'?utf-?8'?$/i.test(value)) return 'UTF8';
  return value;
}

/** `-c name=value` and `--name=value` pairs of the startup `options` parameter. */
function parseOptions(options: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const parts = options.split(/\s+/).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i]!;
    if (p === '-c' && i + 1 < parts.length) p = parts[++i]!;
    else if (p.startsWith('-c')) p = p.slice(2);
    else if (p.startsWith('--')) p = p.slice(2);
    else continue;
    const eq = p.indexOf('=');
    if (eq > 0) out.push([p.slice(0, eq).replace(/-/g, '_'), p.slice(eq + 1)]);
  }
  return out;
}
