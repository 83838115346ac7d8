/**
 * Masking of Redis replies by reply shape. A reply is decoded only when the session decided it must be looked at
 * (see `needsInspection`), each string that holds a stored value is handed to the policy's FieldPlan under the
 * name it is classified by (the key, `key:field` for hash and stream fields, the channel for pub/sub messages),
 * and only the strings a plan changed are re-encoded; every other byte, and every RESP type, stays as it was.
 *
 * Names that are not values are never masked: key names (SCAN, KEYS, the key element of BLPOP/XREAD replies),
 * hash and stream field names, stream ids, sorted-set scores, cursors.
 */
import { Buffer } from 'node:buffer';
import type { CompiledPolicy, FieldPlan, MaskStats } from '../../src/policy/types.js';
import type { ReplyShape } from './command-table.js';
import { decodeFrame, isStringNode, lastFrameHadAttributes, nodeText, stringBytes, textEncoding, type RespNode } from './codec/decode.js';
import { errorReply, replacementStart, spliceFrame, type Replacement } from './codec/encode.js';
import { sortPatternName } from './derive.js';
import type { Derivation } from './masked-commands.js';
import { RespType } from './codec/resp-types.js';

/** One command whose reply is masked: its shape and the arguments that say which names its values carry. */
export interface MaskTarget {
  name: string;
  shape: ReplyShape;
  args: readonly Buffer[];
  keys: readonly Buffer[];
  /** `classificationName` of each key, when the caller already computed them (saves decoding keys again). */
  keyShapes?: readonly string[];
  /** For EXEC: the queued commands, in order. */
  tx?: readonly MaskTarget[];
  /**
   * dgf sent another command than the client's (masked-commands.ts): its reply is masked as `shape`, then turned
   * into the client's reply (a window, a length, bits of the masked value; HVALS from HGETALL).
   */
  derive?: Derivation | null;
}

/** What a mask pass needs besides the reply. */
export interface MaskContext {
  policy: CompiledPolicy;
  role: string;
  stats: MaskStats | undefined;
  /** A session's plans by classification name (else the policy is asked each time). */
  plans?: PlanCache;
}

/**
 * FieldPlans of one role under one policy snapshot, by classification name: a session asks for the same few key
 * shapes on every command, and the policy's own cache needs a composite key string built per call.
 */
export class PlanCache {
  private policy: CompiledPolicy | null = null;
  private role = '';
  private readonly plans = new Map<string, FieldPlan>();
  private static readonly MAX = 1000;

  get(policy: CompiledPolicy, role: string, name: string): FieldPlan {
    if (policy !== this.policy || role !== this.role) {
      this.policy = policy;
      this.role = role;
      this.plans.clear();
    }
    let plan = this.plans.get(name);
    if (plan === undefined) {
      plan = policy.fieldPlan(role, { name, type: 'text' });
      // Bounded: a client inventing key names cannot grow memory; a full clear is cheaper than LRU bookkeeping.
      if (this.plans.size >= PlanCache.MAX) this.plans.clear();
      this.plans.set(name, plan);
    }
    return plan;
  }
}

/** The plan for values classified under `shape` (a classification name). */
function planOf(ctx: MaskContext, shape: string): FieldPlan {
  return ctx.plans ? ctx.plans.get(ctx.policy, ctx.role, shape) : ctx.policy.fieldPlan(ctx.role, { name: shape, type: 'text' });
}

/**
 * Whether a 'scan' plan must decode `bytes[start, end)`: false when no value detector of the role can match them,
 * and then the plan's labels are counted as seen, exactly as `apply` would have done without changing the value.
 * The policy's prefilter reads UTF-8 bytes; for bytes that are not UTF-8 (decoded as latin1, one char per byte)
 * it counts the same characters.
 */
function mustScan(plan: FieldPlan, bytes: Buffer, start: number, end: number, stats: MaskStats | undefined): boolean {
  if (plan.mode !== 'scan' || !plan.scanNeededUtf8 || plan.scanNeededUtf8(bytes, start, end)) return true;
  if (stats) for (const l of plan.labels) stats.seen(l);
  return false;
}

/**
 * The name a key (or `key:field`) is classified under: segments that are only digits (ids, as in
 * `user:42:email`) become `0`, so a million user ids share one cached classification and one cached FieldPlan
 * instead of missing the policy's name caches on every key. Labels come from name words, never from ids.
 */
export function classificationName(name: string): string {
  const n = name.length;
  let out: string | null = null;
  let segStart = 0;
  for (let i = 0; i <= n; i++) {
    if (i < n && name.charCodeAt(i) !== 58) continue;
    // Segment [segStart, i): all digits (and not already "0")?
    let allDigits = i > segStart;
    for (let j = segStart; j < i && allDigits; j++) {
      const c = name.charCodeAt(j);
      allDigits = c >= 48 && c <= 57;
    }
    if (allDigits && !(i - segStart === 1 && name.charCodeAt(segStart) === 48)) {
      out = (out ?? name.slice(0, segStart)) + '0';
    } else if (out !== null) {
      out += name.slice(segStart, i);
    }
    if (i < n && out !== null) out += ':';
    segStart = i + 1;
  }
  return out ?? name;
}

class Walk {
  readonly reps: Replacement[] = [];
  constructor(
    readonly buf: Buffer,
    readonly ctx: MaskContext,
  ) {}

  plan(name: string): FieldPlan {
    return planOf(this.ctx, classificationName(name));
  }

  /** Mask one string leaf as a value named `name` (every string under it, when it is an aggregate: fail closed). */
  leaf(node: RespNode | undefined, name: string): void {
    if (!node) return;
    if (node.children) return this.all(node, name);
    if (!isStringNode(node)) return;
    const plan = this.plan(name);
    if (plan.mode === 'clear') {
      // eslint-disable-next-line prefer-spread -- FieldPlan.apply is the policy's method, not Function#apply
      plan.apply(null, this.ctx.stats);
      return;
    }
    const bytes = stringBytes(this.buf, node);
    if (!mustScan(plan, bytes, 0, bytes.length, this.ctx.stats)) return;
    const enc = textEncoding(bytes);
    const text = bytes.toString(enc);
    const out = plan.apply(text, this.ctx.stats);
    if (out === text) return;
    // The `null` mask keeps the reply's type: an empty string rather than a null of another RESP type.
    this.reps.push({ node, payload: Buffer.from(out === null || out === undefined ? '' : String(out), enc) });
  }

  /** Every string under `node` is a value named `name`. */
  all(node: RespNode | undefined, name: string): void {
    if (!node) return;
    if (node.children) for (const c of node.children) this.all(c, name);
    else this.leaf(node, name);
  }

  text(node: RespNode | undefined): string {
    return node && isStringNode(node) ? nodeText(this.buf, node) : '';
  }

  /** Alternating name/value pairs (flat RESP2 arrays, RESP3 maps): values named `prefix:field`. */
  pairs(node: RespNode | undefined, prefix: string): void {
    const c = node?.children;
    if (!c) return;
    for (let i = 0; i + 1 < c.length; i += 2) this.leaf(c[i + 1], `${prefix}:${this.text(c[i])}`);
  }

  /** Members at even positions (RESP2 member/score pairs). */
  evens(node: RespNode | undefined, name: string): void {
    const c = node?.children;
    if (!c) return;
    for (let i = 0; i < c.length; i += 2) this.all(c[i], name);
  }

  /** Stream entries: [[id, [field, value, ...]], ...]. */
  streamEntries(node: RespNode | undefined, key: string): void {
    const c = node?.children;
    if (!c) return;
    for (const entry of c) {
      if (entry.children && entry.children.length >= 2) this.pairs(entry.children[1], key);
    }
  }

  /** Every string of every RESP3 attribute in the tree, as values named `name` (Redis sends none in replies). */
  attributes(node: RespNode, name: string): void {
    if (node.attribute) this.all(node.attribute, name);
    if (node.children) for (const c of node.children) this.attributes(c, name);
  }

  /** Stream entries `[id, [field, value, ...]]` in a reply of XINFO STREAM [FULL] (a flat array or a map). */
  streamInfo(node: RespNode, key: string): void {
    const c = node.children;
    if (!c) return;
    for (let i = 0; i + 1 < c.length; i += 2) {
      const name = this.text(c[i]);
      const v = c[i + 1]!;
      if (name === 'first-entry' || name === 'last-entry') {
        if (v.children && v.children.length >= 2) this.pairs(v.children[1], key);
      } else if (name === 'entries') {
        this.streamEntries(v, key);
      }
      // Everything else is ids, counts, group and consumer names: names, not values.
    }
  }

  /**
   * SORT ... GET # GET <pattern> ... (the `#` put first by dgf): each group starts with the element, and each value
   * is classified by the name its pattern gives that element.
   */
  sortSubst(node: RespNode, t: MaskTarget, key: string): void {
    const c = node.children;
    if (!c) return;
    const patterns: string[] = [];
    for (let i = 2; i + 1 < t.args.length; i++) {
      const a = t.args[i]!;
      if (a.length === 3 && a.toString('latin1').toLowerCase() === 'get') patterns.push(t.args[++i]!.toString('latin1'));
      else if (a.length === 5 && a.toString('latin1').toLowerCase() === 'limit') i += 2;
      else if (a.length === 2 && a.toString('latin1').toLowerCase() === 'by') i += 1;
    }
    const stride = patterns.length;
    if (stride === 0) return this.all(node, key);
    for (let g = 0; g + stride <= c.length; g += stride) {
      const element = this.text(c[g]);
      for (let i = 0; i < stride; i++) this.leaf(c[g + i], sortPatternName(patterns[i]!, element, key));
    }
  }

  shape(node: RespNode, t: MaskTarget, resp3: boolean): void {
    if (node.type === RespType.SimpleError || node.type === RespType.BulkError || node.isNull) return;
    const key = t.keys.length > 0 ? t.keys[0]!.toString('latin1') : t.name;
    const c = node.children;
    switch (t.shape) {
      case 'none':
      case 'keys':
        return;
      case 'values':
        return this.all(node, this.mostSensitiveKey(t) ?? key);
      case 'per-key':
        if (c) for (let i = 0; i < c.length; i++) this.leaf(c[i], t.keys[i]?.toString('latin1') ?? key);
        return;
      case 'hash-field':
        return this.leaf(node, `${key}:${t.args[2]?.toString('latin1') ?? ''}`);
      case 'hash-fields':
        if (c) for (let i = 0; i < c.length; i++) this.leaf(c[i], `${key}:${t.args[2 + i]?.toString('latin1') ?? ''}`);
        return;
      case 'hash-map':
        return this.pairs(node, key);
      case 'hash-randfield': {
        if (!hasWord(t.args, 'withvalues', 3)) return;
        if (c && c.length > 0 && c[0]!.children) {
          for (const pair of c) this.pairs(pair, key);
        } else {
          this.pairs(node, key);
        }
        return;
      }
      case 'hash-scan':
        return this.pairs(c?.[1], key);
      case 'zset': {
        const scored = t.name === 'zpopmin' || t.name === 'zpopmax' || hasWord(t.args, 'withscores', 2);
        if (!resp3 && scored) return this.evens(node, key);
        // RESP3 scores are doubles, not strings: only members are reached.
        return this.all(node, key);
      }
      case 'zset-scan':
        return this.evens(c?.[1], key);
      case 'zset-keyed':
        return this.leaf(c?.[1], this.text(c?.[0]));
      case 'zset-mpop': {
        const name = this.text(c?.[0]);
        const items = c?.[1]?.children;
        if (items) for (const pair of items) this.leaf(pair.children?.[0], name);
        return;
      }
      case 'list-keyed':
        return this.leaf(c?.[1], this.text(c?.[0]));
      case 'list-mpop':
        return this.all(c?.[1], this.text(c?.[0]));
      case 'set-scan':
        return this.all(c?.[1], key);
      case 'stream-entries':
        return this.streamEntries(node, key);
      case 'stream-read': {
        if (!c) return;
        if (node.type === RespType.Map) {
          for (let i = 0; i + 1 < c.length; i += 2) this.streamEntries(c[i + 1], this.text(c[i]));
        } else {
          for (const s of c) this.streamEntries(s.children?.[1], this.text(s.children?.[0]));
        }
        return;
      }
      case 'stream-autoclaim':
        return this.streamEntries(c?.[1], key);
      case 'stream-info':
        return this.streamInfo(node, key);
      case 'sort-subst':
        return this.sortSubst(node, t, key);
      case 'int-value':
        return;
      case 'sort': {
        const patterns: string[] = [];
        for (let i = 2; i + 1 < t.args.length; i++) {
          if (t.args[i]!.length === 3 && t.args[i]!.toString('latin1').toLowerCase() === 'get') {
            patterns.push(t.args[++i]!.toString('latin1'));
          }
        }
        if (patterns.length === 0 || !c) return this.all(node, key);
        for (let i = 0; i < c.length; i++) {
          const p = patterns[i % patterns.length]!;
          this.leaf(c[i], p === '#' ? key : p);
        }
        return;
      }
      case 'exec': {
        if (!c || !t.tx) return;
        for (let i = 0; i < c.length && i < t.tx.length; i++) {
          const q = t.tx[i]!;
          const child = c[i]!;
          if (q.derive || q.shape === 'int-value') {
            // A reply dgf computes: the element is replaced whole by what maskReply makes of it.
            const bytes = this.buf.subarray(child.start, child.end);
            const out = maskReply(bytes, q, this.ctx, resp3);
            if (out !== bytes) this.reps.push({ node: child, payload: out, raw: true });
          } else {
            this.shape(child, q, resp3);
          }
        }
        return;
      }
    }
  }

  /** For multi-key value replies (SINTER, SUNION, ...): the key whose plan masks, so the strictest view wins. */
  private mostSensitiveKey(t: MaskTarget): string | null {
    return t.keys.length < 2 ? null : mostSensitive(t, this.ctx);
  }
}

function hasWord(args: readonly Buffer[], word: string, from: number): boolean {
  for (let i = from; i < args.length; i++) {
    if (args[i]!.length === word.length && args[i]!.toString('latin1').toLowerCase() === word) return true;
  }
  return false;
}

/**
 * Mask one complete reply frame for `target`. Returns `frame` itself (===) when nothing was masked, so the
 * caller forwards the original bytes.
 */
export function maskReply(frame: Buffer, target: MaskTarget, ctx: MaskContext, resp3: boolean): Buffer {
  if (target.derive) return target.derive(maskFrame(frame, target, ctx, resp3), resp3);
  if (target.shape === 'int-value') return maskInteger(frame, target, ctx);
  return maskFrame(frame, target, ctx, resp3);
}

function maskFrame(frame: Buffer, target: MaskTarget, ctx: MaskContext, resp3: boolean): Buffer {
  if (frame[0] === RespType.BulkString && (target.shape === 'values' || target.shape === 'hash-field')) return maskBulk(frame, target, ctx);
  if (frame[0] === RespType.SimpleError || frame[0] === RespType.BulkError || frame[0] === RespType.Null) return frame;
  const root = decodeFrame(frame);
  const w = new Walk(frame, ctx);
  const attrs = lastFrameHadAttributes;
  w.shape(root, target, resp3);
  if (attrs) w.attributes(root, target.keys.length > 0 ? target.keys[0]!.toString('latin1') : target.name);
  if (w.reps.length === 0) return frame;
  w.reps.sort((a, b) => replacementStart(a) - replacementStart(b));
  return spliceFrame(frame, 0, frame.length, w.reps);
}

/**
 * An integer reply that is the value of a key or hash field (INCRBY, HINCRBY on a name the role sees through the
 * value detectors): its digits are scanned like the string they were, and a reply a detector would mask is
 * withheld (an integer cannot carry a mask).
 */
function maskInteger(frame: Buffer, target: MaskTarget, ctx: MaskContext): Buffer {
  if (frame[0] !== RespType.Integer) return frame;
  let name = target.keys.length > 0 ? target.keys[0]!.toString('latin1') : target.name;
  if (target.name === 'hincrby') name = `${name}:${target.args[2]?.toString('latin1') ?? ''}`;
  const plan = planOf(ctx, classificationName(name));
  if (plan.mode === 'clear') return frame;
  if (plan.mode === 'scan' && !mustScan(plan, frame, 1, frame.length - 2, ctx.stats)) return frame;
  const text = frame.toString('latin1', 1, frame.length - 2);
  if (plan.mode === 'scan' && plan.apply(text, ctx.stats) === text) return frame;
  return errorReply(`NOPERM dgf: the reply of ${target.name.toUpperCase()} is a value this role sees masked, and is withheld (the write was applied)`);
}

/** Fast path for the commonest reply, one bulk string (GET, HGET, LPOP, ...): no tree, no walker. */
function maskBulk(frame: Buffer, target: MaskTarget, ctx: MaskContext): Buffer {
  if (frame[1] === 45) return frame; // $-1
  const cr = frame.indexOf(13, 1);
  if (cr < 0) return frame;
  const start = cr + 2;
  const end = frame.length - 2;
  let shape: string;
  if (target.shape === 'values' && target.keys.length === 1 && target.keyShapes) {
    shape = target.keyShapes[0]!;
  } else {
    let name = target.keys.length > 0 ? target.keys[0]!.toString('latin1') : target.name;
    if (target.shape === 'hash-field') name = `${name}:${target.args[2]?.toString('latin1') ?? ''}`;
    else if (target.keys.length > 1) name = mostSensitive(target, ctx) ?? name;
    shape = classificationName(name);
  }
  const plan = planOf(ctx, shape);
  if (plan.mode === 'clear') {
    // eslint-disable-next-line prefer-spread -- FieldPlan.apply is the policy's method, not Function#apply
    plan.apply(null, ctx.stats);
    return frame;
  }
  if (!mustScan(plan, frame, start, end, ctx.stats)) return frame;
  const bytes = frame.subarray(start, end);
  const enc = textEncoding(bytes);
  const text = bytes.toString(enc);
  const out = plan.apply(text, ctx.stats);
  if (out === text) return frame;
  const payload = Buffer.from(out === null || out === undefined ? '' : String(out), enc);
  return Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload, Buffer.from('\r\n')]);
}

function mostSensitive(t: MaskTarget, ctx: MaskContext): string | null {
  for (const k of t.keys) {
    const name = k.toString('latin1');
    if (planOf(ctx, classificationName(name)).mode === 'mask') return name;
  }
  return null;
}

/**
 * Mask a pub/sub message frame (`message`/`smessage` channel payload, `pmessage` pattern channel payload) by
 * its channel name; other pushes (subscribe confirmations, invalidations) are returned unchanged.
 */
export function maskPush(frame: Buffer, ctx: MaskContext): Buffer {
  const root = decodeFrame(frame);
  const c = root.children;
  if (!c || c.length < 3) return frame;
  const w = new Walk(frame, ctx);
  const kind = w.text(c[0]).toLowerCase();
  if ((kind === 'message' || kind === 'smessage') && c.length === 3) w.leaf(c[2], w.text(c[1]));
  else if (kind === 'pmessage' && c.length === 4) w.leaf(c[3], w.text(c[2]));
  else return frame;
  if (w.reps.length === 0) return frame;
  return spliceFrame(frame, 0, frame.length, w.reps);
}
