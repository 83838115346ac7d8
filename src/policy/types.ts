/**
 * The policy engine's public contract. Protocols see only these types (through src/governance):
 * the engine is pure and synchronous, knows no bytes, and answers three questions:
 *  - which labels does this name / value carry (classification),
 *  - what does role R see of this value of logical type T (masking),
 *  - is this operation on this object allowed for this identity (decision).
 */

/**
 * The label of a value whose sources dgf could not trace (policy `onUnknownLineage: mask`): every role that has
 * any masked label sees it masked, with the derived mask.
 */
export const UNTRACED_LABEL = 'dgf.untraced';

/**
 * The tag of an operation that runs code dgf cannot read (EXECUTE of computed SQL text, a function in a language dgf
 * does not parse, a shell command). Its `may:<verb>` tags list what it could do; every deny rule naming one of those
 * verbs then matches it whatever objects or labels the rule names, unless an allow rule names `dynamic-code` for the
 * role (CompiledPolicy.decide).
 */
export const DYNAMIC_CODE_TAG = 'dynamic-code';

/**
 * The tag of an operation that renames an object or moves it to another schema: every deny rule that names the object
 * matches it whatever operation the rule names, since under its new name the object would escape the rule.
 */
export const RENAME_OBJECT_TAG = 'rename-object';

/**
 * Prefix of the tags naming what an operation runs inside it (`runs:drop` for a DO block or function body that drops):
 * deny rules and rules without an action match them as the verb itself; allow rules do not, so allowing one verb
 * never allows the code around it.
 */
export const RUNS_TAG_PREFIX = 'runs:';

/** Logical types a mask must preserve. A masked value is always a valid value of its type. */
export type LogicalType =
  | 'text'
  | 'integer'
  | 'numeric'
  | 'boolean'
  | 'date'
  | 'timestamp'
  | 'uuid'
  | 'json'
  | 'bytes';

/**
 * A value as a protocol hands it to a mask. The output of a mask has the same JS type as its input:
 * - text, uuid: string
 * - integer: number | bigint | string (decimal text, as in the Postgres text format)
 * - numeric: number | string (decimal text)
 * - boolean: boolean | string ('t'/'f', 'true'/'false')
 * - date: Date | string ('YYYY-MM-DD')
 * - timestamp: Date | string (ISO-8601 or Postgres text form)
 * - json: any JSON value already parsed (objects are masked recursively by key name and by value),
 *   or a string holding JSON text (returned as JSON text)
 * - bytes: Buffer | Uint8Array
 * null passes through every mask unchanged.
 */
export type MaskableValue = unknown;

/** The 9 mask methods of SPEC. */
export type MaskMethod =
  | 'redact'
  | 'null'
  | 'partial'
  | 'last4'
  | 'email'
  | 'hash'
  | 'tokenize'
  | 'generalize'
  | 'fake';

/** Who is asking. Built by the protocol from its handshake. */
export interface Identity {
  /** Authenticated user name (listener `users`). */
  user: string;
  /** application_name (Postgres), client name (Redis CLIENT SETNAME / Mongo appName), User-Agent (HTTP). */
  application?: string;
  /** Remote address of the client socket. */
  address?: string;
  /** Database the client selected, where the protocol has one. */
  database?: string;
}

/**
 * Generic class of an operation. Rules may match a specific verb (`drop`, `flushall`, `deletemany-all`)
 * or one of these kinds (`read`, `write`, `ddl`, `admin`).
 */
export type OperationKind = 'read' | 'write' | 'ddl' | 'admin' | 'session' | 'other';

/** A protocol-neutral description of one operation, handed to `decide`. */
export interface OperationRequest {
  listener: string;
  protocol: string;
  identity: Identity;
  role: string;
  /** Lower-case verb as the protocol names it: 'select', 'insert', 'drop', 'truncate', 'flushall', 'get', 'find', 'deletemany-all', 'upsert'. */
  operation: string;
  kind: OperationKind;
  /** Objects touched, qualified as the protocol names them: 'public.customers', 'app.users', 'user:42:email', 'db1/coll1', 'container/blob'. */
  objects: readonly string[];
  /** Field or column names the operation writes or filters on, when the protocol knows them. */
  fields?: readonly string[];
  /** Labels already known to be touched (e.g. classified written values). */
  labels?: readonly string[];
  /** Whether both legs are encrypted (client TLS and upstream TLS), for HIPAA-001-style requirements. */
  encrypted?: boolean;
  /**
   * More specific verbs of the operation (`create-view`, `create-table-as`, `do`, `copy-to-program`, ...), matched by
   * a rule's `operation` exactly like the operation itself (case-insensitive globs), so a rule can name `create-view`
   * without every `create`.
   */
  tags?: readonly string[];
  /**
   * Whether the operation reads values of sources that this role sees masked (rule match `readsMasked: true`).
   * A protocol that cannot tell what an operation reads (a function body it cannot parse) says true: fail closed.
   */
  readsMasked?: boolean;
}

/** What a rule requires of an allowed operation (SPEC `require`). */
export type Requirement = 'identity' | 'audit' | 'tls' | 'approval';

/** The verdict for one operation. */
export interface Decision {
  action: 'allow' | 'deny';
  /** The id of the rule that denied, when denied. */
  ruleId?: string;
  /** The rule's message, sent to the client in the protocol's own error format. */
  message?: string;
  /** Ids of every rule that matched (deny, allow or require), for the audit record. */
  rules: readonly string[];
  /** Requirements gathered from matched rules; a protocol/governance layer enforces them. */
  requires: readonly Requirement[];
}

/** One entity found inside a text value by a value detector. */
export interface Finding {
  label: string;
  /** Detector name, e.g. 'payment_card'. */
  detector: string;
  start: number;
  /** Exclusive end offset in UTF-16 code units. */
  end: number;
}

/** Counts what masking did during one operation; feeds the audit record and metrics. Implemented by MaskTally. */
export interface MaskStats {
  /** A label was seen (classified), whether or not it was masked. */
  seen(label: string): void;
  /** A value was masked for `label` with `method`. */
  masked(label: string, method: MaskMethod): void;
}

/** A field in a result or document, as the protocol knows it. */
export interface FieldRef {
  /** Column, field path (`contact.email`) or key (`user:42:email`) name. */
  name: string;
  /** The object it belongs to, when known ('public.customers'), so `select email as x` still classifies via its source column. */
  object?: string;
  /** The source column name when the result column was renamed. */
  sourceName?: string;
  type: LogicalType;
}

/**
 * How one field is treated for one role, compiled once per (role, field) and cached by the caller
 * for the life of a result shape (valid while `CompiledPolicy.version` is unchanged).
 * - 'clear': forward the bytes untouched; nothing to do.
 * - 'mask': the name is classified and the role may not see it: mask every value with `apply`.
 * - 'scan': the name is not (or not fully) masked, but value detectors may find entities: call `apply`,
 *   which returns the same value (===) when nothing was found, so the caller can forward original bytes.
 */
export interface FieldPlan {
  readonly mode: 'clear' | 'mask' | 'scan';
  /** Labels carried by the name. */
  readonly labels: readonly string[];
  apply(value: MaskableValue, stats?: MaskStats): MaskableValue;
  /**
   * For a 'scan' plan of a text field: whether the UTF-8 text `bytes[start, end)` must be decoded and passed to
   * `apply`. False means no value detector of the role can match it, so `apply` would return it unchanged (the
   * caller still counts `labels` as seen). A necessary-condition test on byte counts; true when unsure.
   */
  scanNeededUtf8?(bytes: Uint8Array, start: number, end: number): boolean;
}

/** Result of classifying one name + value for tooling (`dgf policy explain`, POST /api/v1/classify). */
export interface Explanation {
  labels: string[];
  findings: Finding[];
  masked: MaskableValue;
}

/** A policy entry listed by GET /api/v1/governance/policies. */
export interface PolicySummary {
  id: string;
  framework: string;
  name: string;
  description: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
}

/** An immutable, compiled policy set. Reload builds a new one and swaps it atomically. */
export interface CompiledPolicy {
  /** Increments on every successful reload; cached FieldPlans are valid only for the version they came from. */
  readonly version: number;
  /** Decide whether an operation may run. */
  decide(req: OperationRequest): Decision;
  /** Labels carried by a name: column, dotted path, or key (matched per ':'-separated part). Cached. */
  labelsForName(name: string): readonly string[];
  /** Entities found inside a text value. */
  findEntities(text: string): Finding[];
  /**
   * Whether all-digit segments of a name (ids, as in `key:000000012345`) can change a decision: a rule matches
   * `objects`, or a classifier name glob can tell ids apart. When false, requests that differ only in such
   * segments are decided alike, so a caller may reuse one decision for all of them.
   */
  idsCanChangeDecisions(): boolean;
  /** True when `role` has at least one masked label with a value detector, i.e. values must be scanned. */
  scansValuesFor(role: string): boolean;
  /** True when `role` has at least one masked label: such a role is held to the masking guarantee (rule match `maskedRole`). */
  masksAnyFor(role: string): boolean;
  /**
   * What policy declares an object's content to be (policy section `content`): 'clean' (nothing classified: served
   * as it is), 'binary-only' (binary data, served as it is while it is binary), or null (judged by its bytes;
   * content dgf cannot parse is refused for masked roles).
   */
  contentClass(object: string): 'clean' | 'binary-only' | null;
  /**
   * The labels the output of an allow-listed server-side script may carry (policy section `scripts`, by the SHA1 of
   * its body, lower-case hex), or null when the script is not allow-listed (refused for a role with masks).
   */
  scriptLabels(sha1: string): readonly string[] | null;
  /** The mask method `role` gets for `label`, or null when the role sees it clear (for tooling and the admin API). */
  maskMethodFor(role: string, label: string): MaskMethod | null;
  /**
   * What to do with an output dgf cannot trace to its sources, for `role` (policy setting `onUnknownLineage`):
   * 'deny' refuses the operation, 'mask' masks every output value with the derived mask. The role's own entry, else
   * the `default` entry, else 'deny'.
   */
  onUnknownLineage(role: string): 'deny' | 'mask';
  /**
   * The derived mask: how `role` sees a value of `type` computed from sources that carry `labels` (`email || ''`,
   * `upper(full_name)`, a window of a value). When the role may see every one of `labels` clear, the plan is the
   * one a field with those labels and no name would get (clear, or scan for text/json). Otherwise a 'mask' plan over
   * the whole value: text and json are redacted whole (json as the JSON string of the redaction), every other type
   * becomes SQL NULL / null (no format-preserving mask of a derived value is safe: a last-4 of `reverse(ssn)` shows
   * the first 4). `labels` of the plan are the given labels; stats count the strongest masked label with 'redact'
   * or 'null' (a SQL NULL input is returned as is and counts nothing). `labels` may come in any order and repeat: plans
   * are cached per (role, label set, type), and the plan's `labels` are the given labels sorted and deduplicated.
   * `UNTRACED_LABEL` among `labels` counts as masked for every role that has a masked label (`masksAnyFor`).
   */
  derivedPlan(role: string, labels: readonly string[], type: LogicalType): FieldPlan;
  /**
   * The plan of a field that carries exactly `labels` (its own, format-preserving mask): for a value known to be
   * one column's value without its name at hand, e.g. the key an error message quotes (`Key (email)=(...)`).
   */
  labelPlan(role: string, labels: readonly string[], type: LogicalType): FieldPlan;
  /** Compile how `role` sees `field`. Cheap to call again (cached internally) but callers should keep it per result shape. */
  fieldPlan(role: string, field: FieldRef): FieldPlan;
  /**
   * Mask a parsed JSON/BSON-like document for `role`: classified keys (by path) masked, string values scanned.
   * Returns the same object (===) when nothing changed. Non-plain values (Date, Buffer, bigint, BSON types
   * whose `_bsontype` is set) are treated by their logical type.
   */
  maskDocument(role: string, doc: unknown, stats?: MaskStats, object?: string): unknown;
  /** For tooling: what `role` would see of `value` under `name`. */
  explain(role: string, name: string | undefined, value: MaskableValue, type?: LogicalType): Explanation;
  /** Policies and rules for GET /api/v1/governance/policies. */
  summaries(framework?: string): PolicySummary[];
  /** Label -> frameworks, for reports. */
  frameworksOf(label: string): readonly string[];
}
