/**
 * What a Cosmos DB (SQL API, REST) request is: the operation, the resource it addresses, and the resource
 * type and link its master-key signature covers. Decided from the method, the path and a few x-ms headers,
 * never from the body.
 */
import type { OperationKind } from '../../src/policy/types.js';

/** How a response body is shaped, which decides how it is masked. */
export type CosmosBodyShape =
  /** One document (point read, create, upsert, replace, patch). */
  | 'document'
  /** A feed page `{_rid, Documents: [...], _count}` (query, read feed, change feed). */
  | 'feed'
  /** A transactional batch / bulk answer `[{statusCode, resourceBody}]`. */
  | 'batch'
  /** The database account (`GET /`): locations rewritten. */
  | 'account'
  /** Metadata (databases, containers, offers, partition key ranges, query plans): forwarded untouched. */
  | 'other';

export interface CosmosRequest {
  /** Lower-case verb for policy rules: read, query, create, upsert, replace, patch, delete, batch, change-feed, read-feed, create-database, delete-container, ... */
  operation: string;
  kind: OperationKind;
  /** Resource type the signature covers ('' for the account, 'dbs', 'colls', 'docs', 'offers', ...). */
  resourceType: string;
  /** Resource link the signature covers ('dbs/x/colls/y', '' for the account and top-level feeds). */
  resourceLink: string;
  /** Decoded path segments. */
  segments: string[];
  database: string | null;
  container: string | null;
  /** 'db/coll' for container-scoped operations, 'db' for database ones; [] for the account. */
  objects: string[];
  shape: CosmosBodyShape;
  /** Whether the operation writes documents whose bodies dgf classifies. */
  writesDocuments: boolean;
}

/** A malformed request path. */
export class CosmosRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CosmosRequestError';
  }
}

function isTrue(v: string | string[] | undefined): boolean {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && s.toLowerCase() === 'true';
}

/** Split and percent-decode the path (the SDK signs decoded ids: it builds URLs with encodeURI). */
export function pathSegments(pathname: string): string[] {
  const trimmed = pathname.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  return trimmed.split('/').map((s) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new CosmosRequestError(`path segment "${s}" is not valid percent-encoding`);
    }
    // An empty or dot segment could make the policy's object differ from what the service resolves.
    if (d === '' || d === '.' || d === '..') throw new CosmosRequestError(`path segment "${s}" is not a resource id`);
    return d;
  });
}

/** Resource type and link per the Cosmos REST auth rules (offers sign their lower-cased rid only). */
export function signingResource(segments: readonly string[]): { resourceType: string; resourceLink: string } {
  const n = segments.length;
  if (n === 0) return { resourceType: '', resourceLink: '' };
  if (n % 2 === 1) return { resourceType: segments[n - 1]!.toLowerCase(), resourceLink: segments.slice(0, n - 1).join('/') };
  const resourceType = segments[n - 2]!.toLowerCase();
  if (resourceType === 'offers') return { resourceType, resourceLink: segments[n - 1]!.toLowerCase() };
  return { resourceType, resourceLink: segments.join('/') };
}

const SINGULAR: Record<string, string> = {
  dbs: 'database',
  colls: 'container',
  docs: 'document',
  users: 'user',
  permissions: 'permission',
  sprocs: 'stored-procedure',
  triggers: 'trigger',
  udfs: 'udf',
  attachments: 'attachment',
  offers: 'offer',
  conflicts: 'conflict',
  pkranges: 'pkranges',
  clientencryptionkeys: 'client-encryption-key',
};

/** Classify one request. `headers` are Node's lower-cased request headers. */
export function parseCosmosRequest(
  method: string,
  pathname: string,
  headers: Record<string, string | string[] | undefined>,
): CosmosRequest {
  const segments = pathSegments(pathname);
  const { resourceType, resourceLink } = signingResource(segments);
  const n = segments.length;
  const database = n >= 2 && segments[0] === 'dbs' ? segments[1]! : null;
  const container = n >= 4 && segments[2] === 'colls' ? segments[3]! : null;
  const objects = database === null ? [] : container === null ? [database] : [`${database}/${container}`];
  const isFeed = n % 2 === 1;
  const type = n === 0 ? '' : isFeed ? segments[n - 1]! : segments[n - 2]!;
  const noun = SINGULAR[type] ?? type;
  const base = { resourceType, resourceLink, segments, database, container, objects, writesDocuments: false };
  const m = method.toUpperCase();

  if (n === 0) {
    if (m !== 'GET') throw new CosmosRequestError(`${m} is not supported on the database account`);
    return { ...base, operation: 'read-account', kind: 'read', shape: 'account' };
  }
  if (type === 'offers') {
    if (m === 'PUT') return { ...base, operation: 'replace-offer', kind: 'admin', shape: 'other' };
    if (m === 'POST') return { ...base, operation: 'query-offers', kind: 'read', shape: 'other' };
    return { ...base, operation: isFeed ? 'list-offers' : 'read-offer', kind: 'read', shape: 'other' };
  }
  const docs = type === 'docs';
  switch (m) {
    case 'GET':
      if (isFeed) {
        if (docs) {
          const aim = headers['a-im'];
          const changeFeed = (Array.isArray(aim) ? aim[0] : aim)?.toLowerCase().includes('incremental feed') ?? false;
          return { ...base, operation: changeFeed ? 'change-feed' : 'read-feed', kind: 'read', shape: 'feed' };
        }
        return { ...base, operation: type === 'pkranges' ? 'read-pkranges' : `list-${noun}s`, kind: 'read', shape: 'other' };
      }
      return docs
        ? { ...base, operation: 'read', kind: 'read', shape: 'document' }
        : { ...base, operation: `read-${noun}`, kind: 'read', shape: 'other' };
    case 'POST':
      if (!isFeed && type === 'sprocs') {
        // Executing a stored procedure: JavaScript on the service that reads and answers what dgf cannot trace.
        return { ...base, operation: 'execute-stored-procedure', kind: 'write', shape: 'other' };
      }
      if (!isFeed) throw new CosmosRequestError(`POST must address a feed, not ${segments.join('/')}`);
      if (isTrue(headers['x-ms-cosmos-is-query-plan-request'])) {
        return { ...base, operation: 'query-plan', kind: 'read', shape: 'other' };
      }
      if (isTrue(headers['x-ms-documentdb-isquery']) || String(headers['content-type'] ?? '').startsWith('application/query+json')) {
        return docs
          ? { ...base, operation: 'query', kind: 'read', shape: 'feed' }
          : { ...base, operation: `query-${noun}s`, kind: 'read', shape: 'other' };
      }
      if (docs && isTrue(headers['x-ms-cosmos-is-batch-request'])) {
        return { ...base, operation: 'batch', kind: 'write', shape: 'batch', writesDocuments: true };
      }
      if (docs) {
        const upsert = isTrue(headers['x-ms-documentdb-is-upsert']);
        return { ...base, operation: upsert ? 'upsert' : 'create', kind: 'write', shape: 'document', writesDocuments: true };
      }
      return {
        ...base,
        operation: `create-${noun}`,
        kind: type === 'dbs' || type === 'colls' ? 'ddl' : 'write',
        shape: 'other',
      };
    case 'PUT':
      if (isFeed) throw new CosmosRequestError(`PUT must address a resource, not a feed`);
      return docs
        ? { ...base, operation: 'replace', kind: 'write', shape: 'document', writesDocuments: true }
        : { ...base, operation: `replace-${noun}`, kind: type === 'colls' ? 'ddl' : 'write', shape: 'other' };
    case 'PATCH':
      if (!docs || isFeed) throw new CosmosRequestError('PATCH applies to documents only');
      return { ...base, operation: 'patch', kind: 'write', shape: 'document', writesDocuments: true };
    case 'DELETE':
      if (isFeed) throw new CosmosRequestError('DELETE must address a resource, not a feed');
      return docs
        ? { ...base, operation: 'delete', kind: 'write', shape: 'other' }
        : {
            ...base,
            operation: `delete-${noun}`,
            kind: type === 'dbs' || type === 'colls' ? 'ddl' : 'write',
            shape: 'other',
          };
    default:
      break;
  }
  throw new CosmosRequestError(`method ${m} is not part of the Cosmos DB REST API`);
}

/** A query with its literals replaced by placeholders, for the audit trail (parameters are never logged). */
export function normalizeQuery(query: string): string {
  return query
    .replace(/'(?:[^'\\]|\\.)*'/g, '?')
    .replace(/"(?:[^"\\]|\\.)*"/g, '?')
    .replace(/(?<![\w@$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 4096);
}
