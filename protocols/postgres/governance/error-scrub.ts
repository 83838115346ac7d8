/**
 * Scrubs what PostgreSQL says besides results (ErrorResponse, NoticeResponse, NotificationResponse, ParameterStatus)
 * for roles that may not see classified values: PostgreSQL echoes input values in errors (`invalid input syntax for
 * type integer: "alice@example.com"`, `Key (email)=(...) already exists.`, `Failing row contains (...)`), and
 * PL/pgSQL RAISE can print anything a function read. No reply may carry a value derived from a classified source
 * the role may not see, except through that label's mask.
 *
 * Kept: severity, SQLSTATE, positions, server file/line/routine, and the identifier fields (schema, table, column,
 * data type, constraint). Scrubbed: message, detail, hint, context and internal query, by the templates
 * PostgreSQL 15 uses, then by the value detectors:
 *  - a value quoted by a message that echoes input (classes 22, 2F, 38, 39, P0, XX, or any error of a statement a
 *    function ran), when the statement's sources include labels the role sees masked: the derived mask (redacted
 *    whole: the value may be any expression of the sources, `reverse(ssn)::int`);
 *  - a key detail's values (`Key (email)=(...)`): each column's own mask; an index expression's value, the derived mask;
 *  - a failing row (columns not named): redacted whole when the statement's sources are masked for the role;
 *  - what a function's author wrote (RAISE, ASSERT, PL/Python output, unknown notices): withheld.
 * Frames are rare, so the slow path favours clarity; a frame nothing changes in comes back as the same Buffer.
 */
import type { CompiledPolicy, FieldPlan, MaskStats } from '../../../src/policy/types.js';
import { maskDerivedValue, maskEchoedValue, masksAnyOf, scanTextWith, textScanPlan } from '../../../src/governance/scrub-text.js';
import { BackendCode } from '../codec/message-codes.js';

/** What replaces the message of a RAISE (and drops its detail and hint) when the statement read classified data. */
export const WITHHELD_MESSAGE = 'message withheld by dgf: it may contain classified values';

/** What every scrub needs. */
export interface TextScrubContext {
  readonly policy: CompiledPolicy;
  readonly role: string;
  /** The operation's tally (labels seen, values masked). */
  readonly stats: MaskStats;
  /**
   * Labels of the classified sources the current statement reads, and of the tables it writes (a failing row shows
   * the stored values of the written row), that this role may not see; `UNTRACED_LABEL` when dgf could not trace
   * them; empty when none. Labels the role sees clear are ignored.
   */
  readonly sourceLabels: readonly string[];
}

/** What an ErrorResponse / NoticeResponse scrub needs besides. */
export interface BackendScrubContext extends TextScrubContext {
  /**
   * Labels of a column PostgreSQL names in a key detail. `tableName` is the relation the column belongs to:
   * `schema.table` when the frame names the schema, the bare name otherwise, undefined when unknown.
   */
  labelsOfColumn(tableName: string | undefined, columnName: string): readonly string[];
}

// Field codes of ErrorResponse / NoticeResponse (protocol "Error and Notice Message Fields").
const F_SEVERITY = 0x53; // S
const F_SEVERITY_V = 0x56; // V
const F_CODE = 0x43; // C
const F_MESSAGE = 0x4d; // M
const F_DETAIL = 0x44; // D
const F_HINT = 0x48; // H
const F_POSITION = 0x50; // P
const F_INTERNAL_POSITION = 0x70; // p
const F_INTERNAL_QUERY = 0x71; // q
const F_WHERE = 0x57; // W
const F_SCHEMA = 0x73; // s
const F_TABLE = 0x74; // t
const F_COLUMN = 0x63; // c
const F_DATATYPE = 0x64; // d
const F_CONSTRAINT = 0x6e; // n
const F_FILE = 0x46; // F
const F_LINE = 0x4c; // L
const F_ROUTINE = 0x52; // R

/** Identifier fields: PostgreSQL puts names there, but RAISE ... USING SCHEMA/TABLE/COLUMN/DATATYPE/CONSTRAINT any text. */
const IDENTIFIER_FIELDS = new Set([F_SCHEMA, F_TABLE, F_COLUMN, F_DATATYPE, F_CONSTRAINT]);
/** Fields that hold no value: severities, SQLSTATE, positions, server source location, identifiers. */
const KEPT = new Set([F_SEVERITY, F_SEVERITY_V, F_CODE, F_POSITION, F_INTERNAL_POSITION, F_FILE, F_LINE, F_ROUTINE, F_SCHEMA, F_TABLE, F_COLUMN, F_DATATYPE, F_CONSTRAINT]);

/**
 * SQLSTATE classes whose messages quote input values: 22 data exception, 2F SQL routine, 38 external routine,
 * 39 external routine invocation, P0 PL/pgSQL, XX internal. Class 23 quotes identifiers in its messages and puts
 * values in its details, which are read by template.
 */
const ECHO_CLASSES = new Set(['22', '2F', '38', '39', 'P0', 'XX']);

/** XML errors: libxml's detail repeats the offending input line, unquoted. */
const XML_CODES = new Set(['2200L', '2200M', '2200N', '2200S', '2200T']);

/** Routines that emit what a function's author wrote: PL/pgSQL RAISE and ASSERT, PL/Python plpy.notice & co. */
const USER_ROUTINES = new Set(['exec_stmt_raise', 'exec_stmt_assert', 'PLy_output']);
/** The innermost context line of a PL/pgSQL RAISE or ASSERT (servers that do not send the routine). */
const RAISE_CONTEXT = /^PL\/pgSQL function [^\n]* at (?:RAISE|ASSERT)(?:\n|$)/;
/** A frame of another procedural language: its messages can be anything the code printed. */
const OTHER_PL_CONTEXT = /(?:^|\n)[ \t]*PL\/(?!pgSQL )\S+ (?:function|anonymous code block)/;
/** A statement run inside a function: possibly built from data (EXECUTE), so its text and errors may hold values. */
const ROUTINE_STATEMENT = /(?:^|\n)SQL statement "/;

/**
 * Notices (SQLSTATE 00000 / 01xxx) PostgreSQL 15 itself sends whose text names objects, not values. Any other such
 * notice is treated as a function's output when the statement read classified data.
 */
const PG_NOTICES: readonly RegExp[] = [
  /^[a-z ]+ .* (?:does not exist|already exists), skipping$/s,
  /^(?:drop|truncate) cascades to /,
  /^text-search query contains only stop words or doesn't contain lexemes, ignored$/,
  /^(?:merging|moving and merging) (?:column|constraint) "[^"]*" with inherited definition$/,
  /^(?:no|not all) privileges (?:were granted|could be revoked) for "[^"]*"$/,
  /^(?:view|sequence) "[^"]*" will be a temporary (?:view|sequence)$/,
  /^word is too long to be indexed$/,
  /^(?:vacuuming|analyzing|finished vacuuming) "[^"]*"/,
  /^changing (?:return|argument) type of function /,
];

// Detail templates (PostgreSQL 15: BuildIndexValueDescription, ri_ReportViolation, ExecBuildSlotValueDescription,
// ExecBuildSlotPartitionKeyDescription). Values are printed raw (a comma or parenthesis inside one is not escaped):
// each value list is what lies between the fixed text around it, found with indexOf from both ends (a value is
// data, up to a TOASTed index entry: no backtracking regular expression runs over it).
const FAILING_PREFIX = 'Failing row contains (';
const KEY_HEAD = 'Key (';
const PARTITION_HEAD = 'Partition key of the failing row contains (';
/** Endings of `Key (cols)=(values)<ending>`; `table` ones end with a quoted table name. */
const KEY_ENDINGS = [') already exists.', ') is duplicated.'];
const KEY_TABLE_ENDINGS = [') is not present in table "', ') is still referenced from table "'];
/** The referenced table of `Key (...) is still referenced`: the key columns are its columns. */
const REFERENCED_TABLE = /^update or delete on table "([^"]*)" violates foreign key constraint /;
const JSON_CONTEXT = /^(JSON data, line \d+: )(.*)$/s;
const IDENTIFIER = /^(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|"(?:[^"]|"")*")$/;
const IDENTIFIERS_IN = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|"(?:[^"]|"")*"/g;

// Field table of the frame being scrubbed: [code, start, end] per field. The parse and the fast exits use it;
// the slow path copies it first (it calls back into the session through labelsOfColumn).
const scratch: number[] = [];

/** Parse the fields of an ErrorResponse/NoticeResponse into `out`; false when the frame is malformed. */
function parseFields(frame: Buffer, out: number[]): boolean {
  out.length = 0;
  if (frame.length < 6 || frame.readInt32BE(1) !== frame.length - 1) return false;
  const last = frame.length - 1;
  let p = 5;
  while (p < last) {
    const code = frame[p]!;
    if (code === 0) return false; // the terminator comes only at the end
    const z = frame.indexOf(0, p + 1);
    if (z < 0 || z >= last) return false;
    out.push(code, p + 1, z);
    p = z + 1;
  }
  return p === last && frame[last] === 0;
}

function fieldIndex(fields: readonly number[], code: number): number {
  for (let i = 0; i < fields.length; i += 3) if (fields[i] === code) return i;
  return -1;
}

/**
 * Scrub an ErrorResponse ('E') or NoticeResponse ('N') for `ctx.role`. Returns the same Buffer (===) when nothing
 * changed (any other frame, or a malformed one, also comes back as it is); else a new frame with its length fixed.
 */
export function scrubBackendNotice(frame: Buffer, ctx: BackendScrubContext): Buffer {
  const type = frame[0];
  if (type !== BackendCode.ErrorResponse && type !== BackendCode.NoticeResponse) return frame;
  // A role that sees every label clear is not masked anywhere: nothing to do.
  if (!ctx.policy.masksAnyFor(ctx.role) || !parseFields(frame, scratch)) return frame;
  // The statement read (or wrote) sources the role sees masked: values PostgreSQL echoes may come from them.
  const echo = masksAnyOf(ctx.sourceLabels, ctx.policy, ctx.role);
  const plan = textScanPlan(ctx.policy, ctx.role);
  return scrubFields(frame, scratch.slice(), ctx, echo, plan);
}

function scrubFields(frame: Buffer, fields: readonly number[], ctx: BackendScrubContext, echo: boolean, plan: FieldPlan | null): Buffer {
  const { stats, sourceLabels } = ctx;
  const decoded: Array<string | undefined> = [];
  const text = (i: number): string => (i < 0 ? '' : (decoded[i] ??= frame.toString('utf8', fields[i + 1]!, fields[i + 2]!)));
  const iCode = fieldIndex(fields, F_CODE);
  const code = iCode >= 0 ? text(iCode) : 'XX000';
  const cls = code.slice(0, 2);
  const where = text(fieldIndex(fields, F_WHERE));
  const routine = text(fieldIndex(fields, F_ROUTINE));
  // What a function's author wrote (RAISE ... USING can set every field, identifiers included).
  const fromUser =
    cls === 'P0' ||
    USER_ROUTINES.has(routine) ||
    RAISE_CONTEXT.test(where) ||
    OTHER_PL_CONTEXT.test(where) ||
    (frame[0] === BackendCode.NoticeResponse && (code === '00000' || cls === '01') && !isPgNotice(text(fieldIndex(fields, F_MESSAGE))));
  // Withheld whatever the statement reads: the code that wrote it (a trigger, a rule, a function in a predicate)
  // may read anything, and dgf cannot trace it.
  const user = fromUser;
  // A statement a function ran may have been built from data (EXECUTE): its errors can quote values whatever
  // their class. Class 23 messages quote identifiers only; its values are in the detail, read by template.
  const valueEcho =
    echo && cls !== '23' && (ECHO_CLASSES.has(cls) || fieldIndex(fields, F_INTERNAL_QUERY) >= 0 || ROUTINE_STATEMENT.test(where));

  const out: Array<string | null | undefined> = [];
  let changed = false;
  for (let i = 0; i < fields.length; i += 3) {
    const c = fields[i]!;
    if (KEPT.has(c) && (!fromUser || !IDENTIFIER_FIELDS.has(c))) continue;
    // null: drop the field; Piece[]: the new text; undefined: unchanged so far (the detectors still run).
    let r: Piece[] | null | undefined;
    switch (c) {
      case F_MESSAGE:
        if (user) r = [{ masked: WITHHELD_MESSAGE }];
        else if (valueEcho) r = maskQuoted(text(i), ctx);
        break;
      case F_DETAIL:
        if (user) r = null;
        else {
          r = scrubDetail(text(i), fields, text, ctx);
          if (r === undefined && valueEcho) r = XML_CODES.has(code) ? derived(text(i), sourceLabels, ctx) : maskQuoted(text(i), ctx);
        }
        break;
      case F_HINT:
        if (user) r = null;
        else if (valueEcho) r = maskQuoted(text(i), ctx);
        break;
      case F_WHERE:
        if (echo) r = scrubContext(text(i), ctx);
        break;
      case F_INTERNAL_QUERY:
        if (echo) r = derived(text(i), sourceLabels, ctx);
        break;
      default:
        // RAISE ... USING COLUMN/TABLE/...: any text, not an identifier; fields this version does not know.
        if (user && IDENTIFIER_FIELDS.has(c)) r = null;
        break;
    }
    if (r === null) {
      out[i] = null;
      changed = true;
      continue;
    }
    let result: string | undefined;
    if (r !== undefined) result = render(r, plan, stats);
    else if (plan !== null && (plan.scanNeededUtf8 === undefined || plan.scanNeededUtf8(frame, fields[i + 1]!, fields[i + 2]!))) {
      result = scanTextWith(plan, text(i), stats);
    }
    if (result !== undefined && result !== text(i)) {
      out[i] = result;
      changed = true;
    }
  }
  return changed ? rebuild(frame, fields, out) : frame;
}

/**
 * A field's new text as pieces: a masked piece is final (scanning a masked value again would mask a token or a fake
 * value a second time, and count it twice); the detectors run on the other pieces.
 */
type Piece = string | { readonly masked: string };

/** A column's value (the column carries `labels`) as a piece: its labels' mask, or undefined when the role sees them. */
function columnValue(value: string, labels: readonly string[], ctx: TextScrubContext): Piece[] | undefined {
  const m = maskEchoedValue(value, labels, ctx.policy, ctx.role, ctx.stats);
  return m === value ? undefined : [{ masked: m }];
}

/** A value computed from sources carrying `labels`: the derived mask (redacted whole), or undefined when the role sees them. */
function derived(value: string, labels: readonly string[], ctx: TextScrubContext): Piece[] | undefined {
  const m = maskDerivedValue(value, labels, ctx.policy, ctx.role, ctx.stats);
  return m === value ? undefined : [{ masked: m }];
}

function render(pieces: readonly Piece[], plan: FieldPlan | null, stats: MaskStats): string {
  let s = '';
  for (const p of pieces) s += typeof p === 'string' ? (plan === null ? p : scanTextWith(plan, p, stats)) : p.masked;
  return s;
}

/** PostgreSQL's own notices are short (names are at most 63 bytes): a long text is not one, and no pattern runs over it. */
const PG_NOTICE_MAX = 512;

function isPgNotice(message: string): boolean {
  if (message.length > PG_NOTICE_MAX) return false;
  for (const re of PG_NOTICES) if (re.test(message)) return true;
  return false;
}

/**
 * The text between the first and the last double quote masked with the derived mask of the statement's sources (the
 * value may be any expression of them: `reverse(ssn)::int`). A value PostgreSQL quotes may itself contain quotes,
 * so the whole span goes (a quoted type or parameter name next to it goes with it: over-masking a rare error is
 * the safe side). Undefined when nothing changed.
 */
function maskQuoted(text: string, ctx: TextScrubContext): Piece[] | undefined {
  const a = text.indexOf('"');
  if (a < 0) return undefined;
  let b = text.lastIndexOf('"');
  if (b === a) b = text.length; // an unmatched quote: everything after it
  const inner = text.slice(a + 1, b);
  const masked = maskDerivedValue(inner, ctx.sourceLabels, ctx.policy, ctx.role, ctx.stats);
  return masked === inner ? undefined : [text.slice(0, a + 1), { masked }, text.slice(b)];
}

/** Context lines: function frames name functions; statement texts, COPY lines and JSON excerpts may hold values. */
function scrubContext(where: string, ctx: TextScrubContext): Piece[] | undefined {
  const lines = where.split('\n');
  let pieces: Piece[] | undefined;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    let r: Piece[] | undefined;
    if (!line.startsWith('PL/') && !line.startsWith('SQL function "')) {
      const json = JSON_CONTEXT.exec(line);
      if (json) {
        const masked = derived(json[2]!, ctx.sourceLabels, ctx);
        if (masked) r = [json[1]!, ...masked];
      } else {
        r = maskQuoted(line, ctx);
      }
    }
    if (r !== undefined && pieces === undefined) pieces = lines.slice(0, k).map((l, j) => (j === 0 ? l : '\n' + l));
    if (pieces !== undefined) {
      if (k > 0) pieces.push('\n');
      if (r !== undefined) pieces.push(...r);
      else pieces.push(line);
    }
  }
  return pieces;
}

/** The qualified name of the table a detail's columns belong to. */
function detailTable(fields: readonly number[], text: (i: number) => string, referenced: boolean): string | undefined {
  if (referenced) {
    // `Key (id)=(1) is still referenced from table "orders"`: the key is the referenced table's, named in the message.
    const m = REFERENCED_TABLE.exec(text(fieldIndex(fields, F_MESSAGE)));
    return m ? m[1] : undefined;
  }
  const t = fieldIndex(fields, F_TABLE);
  if (t < 0) return undefined;
  const s = fieldIndex(fields, F_SCHEMA);
  return s >= 0 ? `${text(s)}.${text(t)}` : text(t);
}

/** The detail with its echoed values masked, or undefined when no template applies or nothing changed. */
function scrubDetail(detail: string, fields: readonly number[], text: (i: number) => string, ctx: BackendScrubContext): Piece[] | undefined {
  if (detail.startsWith(FAILING_PREFIX)) {
    // The row's columns are not named: the whole tuple goes when the statement touched what the role may not see.
    if (!detail.endsWith(').')) return undefined;
    const tuple = derived(detail.slice(FAILING_PREFIX.length, detail.length - 2), ctx.sourceLabels, ctx);
    return tuple && [FAILING_PREFIX, ...tuple, ').'];
  }
  if (detail.startsWith(PARTITION_HEAD)) {
    // Partition key of the failing row contains (cols) = (values).
    const sep = detail.indexOf(') = (', PARTITION_HEAD.length);
    if (sep < 0 || !detail.endsWith(').') || sep + 5 > detail.length - 2) return undefined;
    const head = detail.slice(0, sep + 5);
    const values = detail.slice(sep + 5, detail.length - 2);
    const masked = maskKeyValues(detail.slice(PARTITION_HEAD.length, sep), values, detailTable(fields, text, false), ctx);
    return masked && [head, ...masked, ').'];
  }
  if (!detail.startsWith(KEY_HEAD)) return undefined;
  // Key (cols)=(values)<ending>: the columns come from the index definition, the first ")=(" ends them.
  const sep = detail.indexOf(')=(', KEY_HEAD.length);
  if (sep < 0) return undefined;
  const cols = detail.slice(KEY_HEAD.length, sep);
  const head = detail.slice(0, sep + 3);
  const table = (referenced: boolean): string | undefined => detailTable(fields, text, referenced);
  // Key (cols)=(v1) conflicts with [existing ]key (cols)=(v2).
  if (detail.endsWith(').')) {
    for (const middle of [`) conflicts with existing key (${cols})=(`, `) conflicts with key (${cols})=(`]) {
      const at = detail.lastIndexOf(middle);
      if (at < head.length) continue;
      const v1 = detail.slice(head.length, at);
      const v2 = detail.slice(at + middle.length, detail.length - 2);
      const a = maskKeyValues(cols, v1, table(false), ctx);
      const b = maskKeyValues(cols, v2, table(false), ctx);
      if (a === undefined && b === undefined) return undefined;
      return [head, ...(a ?? [v1]), middle, ...(b ?? [v2]), ').'];
    }
  }
  let end = -1;
  let referenced = false;
  for (const e of KEY_ENDINGS) {
    if (detail.endsWith(e)) {
      end = detail.length - e.length;
      break;
    }
  }
  if (end < 0 && detail.endsWith('".')) {
    for (const e of KEY_TABLE_ENDINGS) {
      const at = detail.lastIndexOf(e);
      if (at >= head.length && detail.indexOf('"', at + e.length) === detail.length - 2) {
        end = at;
        referenced = e === KEY_TABLE_ENDINGS[1];
        break;
      }
    }
  }
  if (end < head.length) {
    // A Key detail of a shape not known here: keep the columns, mask everything after them.
    const rest = derived(detail.slice(head.length), columnsLabels(splitColumns(cols), table(false), ctx), ctx);
    return rest && [head, ...rest];
  }
  const masked = maskKeyValues(cols, detail.slice(head.length, end), table(referenced), ctx);
  return masked && [head, ...masked, detail.slice(end)];
}

/** Split an index column list (`lower(email), ssn`) at top-level commas. */
function splitColumns(cols: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < cols.length; i++) {
    const ch = cols.charCodeAt(i);
    if (ch === 0x22) quoted = !quoted;
    else if (quoted) continue;
    else if (ch === 0x28) depth++;
    else if (ch === 0x29) depth--;
    else if (ch === 0x2c && depth === 0 && cols.charCodeAt(i + 1) === 0x20) {
      out.push(cols.slice(from, i));
      from = i + 2;
      i++;
    }
  }
  out.push(cols.slice(from));
  return out;
}

function unquote(ident: string): string {
  return ident.charCodeAt(0) === 0x22 ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

/** Labels of one key column, or of every column an index expression (`lower(email::text)`) names. */
function columnLabels(col: string, table: string | undefined, ctx: BackendScrubContext): readonly string[] {
  if (IDENTIFIER.test(col)) return ctx.labelsOfColumn(table, unquote(col));
  let labels: Set<string> | null = null;
  for (const m of col.matchAll(IDENTIFIERS_IN)) {
    for (const l of ctx.labelsOfColumn(table, unquote(m[0]))) (labels ??= new Set()).add(l);
  }
  return labels === null ? [] : [...labels];
}

function columnsLabels(cols: readonly string[], table: string | undefined, ctx: BackendScrubContext): string[] {
  const all = new Set<string>();
  for (const c of cols) for (const l of columnLabels(c, table, ctx)) all.add(l);
  return [...all];
}

/** One key value: a plain column's value gets the column's mask, an index expression's value the derived mask. */
function keyValue(value: string, col: string, table: string | undefined, ctx: BackendScrubContext): Piece[] | undefined {
  if (value === 'null') return undefined; // how PostgreSQL prints NULL
  return IDENTIFIER.test(col) ? columnValue(value, columnLabels(col, table, ctx), ctx) : derived(value, columnLabels(col, table, ctx), ctx);
}

/**
 * Mask the values of a key detail, each by its column. Values are joined by `, ` unescaped: when the split does not
 * give one value per column, the whole list gets the derived mask of all the columns. Undefined when nothing changed.
 */
function maskKeyValues(colsText: string, values: string, table: string | undefined, ctx: BackendScrubContext): Piece[] | undefined {
  const cols = splitColumns(colsText);
  if (cols.length === 1) return keyValue(values, cols[0]!, table, ctx);
  const parts = values.split(', ');
  if (parts.length !== cols.length) return derived(values, columnsLabels(cols, table, ctx), ctx);
  let out: Piece[] | undefined;
  for (let k = 0; k < parts.length; k++) {
    const v = parts[k]!;
    const m = keyValue(v, cols[k]!, table, ctx);
    if (m !== undefined && out === undefined) out = parts.slice(0, k).flatMap((p, j) => (j === 0 ? [p] : [', ', p]));
    if (out !== undefined) {
      if (k > 0) out.push(', ');
      out.push(...(m ?? [v]));
    }
  }
  return out;
}

/** The frame with fields replaced (string) or dropped (null); one allocation. */
function rebuild(frame: Buffer, fields: readonly number[], out: ReadonlyArray<string | null | undefined>): Buffer {
  let size = 6; // type, length, terminator
  for (let i = 0; i < fields.length; i += 3) {
    const r = out[i];
    if (r === null) continue;
    size += 2 + (r === undefined ? fields[i + 2]! - fields[i + 1]! : Buffer.byteLength(r));
  }
  const b = Buffer.allocUnsafe(size);
  b[0] = frame[0]!;
  b.writeInt32BE(size - 1, 1);
  let p = 5;
  for (let i = 0; i < fields.length; i += 3) {
    const r = out[i];
    if (r === null) continue;
    b[p++] = fields[i]!;
    p += r === undefined ? frame.copy(b, p, fields[i + 1]!, fields[i + 2]!) : b.write(r, p, 'utf8');
    b[p++] = 0;
  }
  b[p] = 0;
  return b;
}

/** Write a frame of `type` whose body is `head` (raw bytes) then C strings. */
function cStringFrame(type: number, head: Buffer, strings: readonly string[]): Buffer {
  let size = 5 + head.length;
  for (const s of strings) size += Buffer.byteLength(s) + 1;
  const b = Buffer.allocUnsafe(size);
  b[0] = type;
  b.writeInt32BE(size - 1, 1);
  let p = 5 + head.copy(b, 5);
  for (const s of strings) {
    p += b.write(s, p, 'utf8');
    b[p++] = 0;
  }
  return b;
}

/** Offsets of the C string starting at `start` and of the one after it; null when they do not fill the frame exactly. */
function twoCStrings(frame: Buffer, start: number): [number, number] | null {
  if (frame.length < start + 2 || frame.readInt32BE(1) !== frame.length - 1) return null;
  const z1 = frame.indexOf(0, start);
  if (z1 < 0) return null;
  const z2 = frame.indexOf(0, z1 + 1);
  return z2 === frame.length - 1 ? [z1, z2] : null;
}

function scanRange(frame: Buffer, start: number, end: number, plan: FieldPlan, stats: MaskStats): string | undefined {
  if (plan.scanNeededUtf8 !== undefined && !plan.scanNeededUtf8(frame, start, end)) return undefined;
  const t = frame.toString('utf8', start, end);
  const r = scanTextWith(plan, t, stats);
  return r === t ? undefined : r;
}

/**
 * Scrub a NotificationResponse ('A': pid, channel, payload). Notifications come from other sessions' NOTIFY, with
 * no statement of this session behind them: the payload is treated like a function's output. When
 * `ctx.sourceLabels` names a label the role sees masked it is withheld (`WITHHELD_MESSAGE`; an empty payload stays
 * empty); otherwise a JSON payload is masked by key name and value (`maskDocument`), any other by the detectors.
 * The channel goes through the detectors.
 * Returns the same Buffer (===) when nothing changed.
 */
export function scrubNotification(frame: Buffer, ctx: TextScrubContext): Buffer {
  if (frame[0] !== BackendCode.NotificationResponse || !ctx.policy.masksAnyFor(ctx.role)) return frame;
  const at = twoCStrings(frame, 9);
  if (at === null) return frame;
  const [z1, z2] = at;
  const plan = textScanPlan(ctx.policy, ctx.role);
  const channel = plan === null ? undefined : scanRange(frame, 9, z1, plan, ctx.stats);
  let payload: string | undefined;
  if (z2 === z1 + 1) {
    // no payload: nothing to hide
  } else if (masksAnyOf(ctx.sourceLabels, ctx.policy, ctx.role)) {
    payload = WITHHELD_MESSAGE;
    maskDerivedValue(payload, ctx.sourceLabels, ctx.policy, ctx.role, ctx.stats); // counts the labels seen and one value masked
  } else {
    const first = frame[z1 + 1];
    if (first === 0x7b || first === 0x5b) payload = maskJsonPayload(frame.toString('utf8', z1 + 1, z2), ctx);
    else if (plan !== null) payload = scanRange(frame, z1 + 1, z2, plan, ctx.stats);
  }
  if (channel === undefined && payload === undefined) return frame;
  return cStringFrame(BackendCode.NotificationResponse, frame.subarray(5, 9), [
    channel ?? frame.toString('utf8', 9, z1),
    payload ?? frame.toString('utf8', z1 + 1, z2),
  ]);
}

function maskJsonPayload(text: string, ctx: TextScrubContext): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const r = textScanPlan(ctx.policy, ctx.role);
    if (r === null) return undefined;
    const s = scanTextWith(r, text, ctx.stats);
    return s === text ? undefined : s;
  }
  const masked = ctx.policy.maskDocument(ctx.role, doc, ctx.stats);
  return masked === doc ? undefined : JSON.stringify(masked);
}

/**
 * Scrub a ParameterStatus ('S': name, value): the value goes through the detectors (a reported setting such as
 * application_name can be set from data with set_config). Returns the same Buffer (===) when nothing changed.
 */
export function scrubParameterStatus(frame: Buffer, ctx: TextScrubContext): Buffer {
  if (frame[0] !== BackendCode.ParameterStatus) return frame;
  const plan = textScanPlan(ctx.policy, ctx.role);
  if (plan === null) return frame;
  const at = twoCStrings(frame, 5);
  if (at === null) return frame;
  const [z1, z2] = at;
  const value = scanRange(frame, z1 + 1, z2, plan, ctx.stats);
  if (value === undefined) return frame;
  return cStringFrame(BackendCode.ParameterStatus, Buffer.alloc(0), [frame.toString('utf8', 5, z1), value]);
}
