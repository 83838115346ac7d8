/**
 * The few internals of the official `mongodb` driver (7.x) dgf builds on, loaded from the same module
 * instances the public API uses. Why internals: the public `db.command()` deserializes every reply, never
 * retries, and cannot send a getMore to the server that owns a cursor. An operation object run through the
 * driver's `executeOperation` gets server selection, retryable reads and writes, session and transaction
 * fields, pinning of getMore/killCursors, and hands back the raw reply bytes. docs/mongodb.md explains the
 * choice; test/integration/mongodb checks it against the installed driver.
 */
import { createRequire } from 'node:module';
import type { ClientSession, Document, MongoClient, ReadPreference } from 'mongodb';

const require = createRequire(import.meta.url);

/** The server a command ran on (opaque; only handed back to pin getMore/killCursors). */
export interface DriverServer {
  readonly description: { readonly address: string };
}

/** An OnDemandDocument over the reply's bytes. */
export interface DriverResponse {
  toBytes(): Uint8Array;
}

export interface DriverOperation {
  server: DriverServer;
  readonly session: ClientSession | undefined;
  readonly readPreference: ReadPreference;
  options: Record<string, unknown>;
  ns: unknown;
}

type OperationCtor = abstract new (options: Record<string, unknown>) => DriverOperation;

interface OperationModule {
  AbstractOperation: OperationCtor;
  Aspect: Record<'READ_OPERATION' | 'WRITE_OPERATION' | 'RETRYABLE' | 'CURSOR_CREATING' | 'MUST_SELECT_SAME_SERVER', symbol>;
  defineAspects(op: unknown, aspects: symbol[]): Set<symbol>;
}

const operationModule = require('mongodb/lib/operations/operation.js') as OperationModule;
const executeModule = require('mongodb/lib/operations/execute_operation.js') as {
  executeOperation(client: MongoClient, op: DriverOperation): Promise<unknown>;
};
const responsesModule = require('mongodb/lib/cmap/wire_protocol/responses.js') as { MongoDBResponse: unknown };
const utilsModule = require('mongodb/lib/utils.js') as { MongoDBNamespace: new (db: string, coll?: string) => unknown };
const commandsModule = require('mongodb/lib/cmap/commands.js') as {
  makeDocumentSequence(field: string, documents: Document[], serialized: Uint8Array[]): unknown;
};

export const Aspect = operationModule.Aspect;

/** How the driver should treat a forwarded command. */
export type ForwardKind = 'read' | 'write' | 'cursor-follow' | 'plain';

export interface ForwardOptions {
  session?: ClientSession;
  readPreference?: ReadPreference;
  /** The server that owns the cursor (getMore/killCursors). */
  server?: DriverServer;
  /** Cursor-creating command (find, aggregate, listCollections...). */
  cursorCreating?: boolean;
}

/**
 * A client command forwarded as-is (minus the fields the driver owns: lsid, txnNumber, $clusterTime,
 * $db, $readPreference). The reply is returned as bytes.
 */
abstract class ForwardedCommand extends operationModule.AbstractOperation {
  SERVER_COMMAND_RESPONSE_TYPE = responsesModule.MongoDBResponse;

  constructor(
    private readonly db: string,
    private readonly command: Document,
    private readonly name: string,
    options: ForwardOptions,
  ) {
    super({
      ...(options.session ? { session: options.session } : {}),
      ...(options.readPreference ? { readPreference: options.readPreference } : {}),
      // Error replies are decoded by the driver; keep their numbers as they were sent.
      promoteLongs: false,
    });
    this.ns = new utilsModule.MongoDBNamespace(db, '$cmd');
    if (options.server) this.server = options.server;
  }

  get commandName(): string {
    return this.name;
  }

  buildCommand(): Document {
    // A fresh copy per attempt: the driver adds lsid/txnNumber and removes document sequences from what it
    // sends, and a retry must start from the client's command again.
    return { ...this.command };
  }

  buildOptions(timeoutContext: unknown): Record<string, unknown> {
    return { ...this.options, session: this.session, timeoutContext, readPreference: this.readPreference };
  }

  handleOk(response: DriverResponse): DriverResponse {
    return response;
  }

  get database(): string {
    return this.db;
  }
}

class ReadCommand extends ForwardedCommand {}
class CursorReadCommand extends ForwardedCommand {}
class WriteCommand extends ForwardedCommand {}
class FollowCursorCommand extends ForwardedCommand {}
class PlainCommand extends ForwardedCommand {}

const A = operationModule.Aspect;
operationModule.defineAspects(ReadCommand, [A.READ_OPERATION, A.RETRYABLE]);
operationModule.defineAspects(CursorReadCommand, [A.READ_OPERATION, A.RETRYABLE, A.CURSOR_CREATING]);
operationModule.defineAspects(WriteCommand, [A.WRITE_OPERATION, A.RETRYABLE]);
operationModule.defineAspects(FollowCursorCommand, [A.READ_OPERATION, A.MUST_SELECT_SAME_SERVER]);
operationModule.defineAspects(PlainCommand, []);

/** Run a command through the driver; resolves to the reply bytes and the server that answered. */
export async function executeForwarded(
  client: MongoClient,
  db: string,
  command: Document,
  name: string,
  kind: ForwardKind,
  options: ForwardOptions,
): Promise<{ reply: Uint8Array; server: DriverServer }> {
  const Ctor =
    kind === 'read' ? (options.cursorCreating ? CursorReadCommand : ReadCommand) : kind === 'write' ? WriteCommand : kind === 'cursor-follow' ? FollowCursorCommand : PlainCommand;
  const op = new Ctor(db, command, name, options);
  const response = (await executeModule.executeOperation(client, op)) as DriverResponse;
  return { reply: response.toBytes(), server: op.server };
}

/** A kind 1 document sequence the driver sends from already-serialized documents (no re-encoding). */
export function rawDocumentSequence(field: string, documents: Uint8Array[]): unknown {
  // The parsed documents are only used for command monitoring, which dgf leaves off.
  return commandsModule.makeDocumentSequence(field, documents.map(() => ({})), documents);
}
