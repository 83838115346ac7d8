/**
 * Masks COPY ... TO STDOUT output like result rows. Text and CSV lines are split into fields, masked with the
 * plans of their columns (resolved through the catalog), and re-escaped; binary COPY tuples are masked with the
 * same binary codecs as DataRows. When the columns of a COPY cannot be known for a role whose values are masked,
 * the COPY is refused rather than passed clear.
 */
import type { CompiledPolicy } from '../../../src/policy/types.js';
import type { ListenerGovernance } from '../../../src/governance/listener-governance.js';
import type { Operation } from '../../../src/governance/operation.js';
import { ProtocolError } from '../../shared/errors.js';
import type { StatementInfo } from './analyze.js';
import type { CatalogCache } from './catalog.js';
import { FieldRewriter, planColumns, type ColumnAction, type DescribedColumn } from './column-plan.js';
import { alignOutputs, type LineageVerdict } from './lineage-plan.js';
import { copyLineFormat, encodeCopyCsv, encodeCopyText, splitCopyRecords, type CopyLineFormat } from './copy-format.js';
import { TypeOid } from './pg-values.js';

/** COPY output that cannot be masked safely for this role: answer SQLSTATE 42501 with this message, send no data. */
export class CopyMaskRefusedError extends ProtocolError {
  constructor(message: string) {
    super(message, '42501', false);
    this.name = 'CopyMaskRefusedError';
  }
}

/** 'PGCOPY\n\xff\r\n\0': the signature of binary COPY. */
const BINARY_SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const COPY_DATA_HEADER = 5; // 'd' + int32 length

export class CopyOutMasker {
  /** True when nothing in this COPY can need masking for this role: forward CopyData untouched. */
  readonly passthrough: boolean;
  /** Set when this COPY must not run for this role (columns unknown while values are masked). */
  readonly refusal: string | null;

  private readonly actions: ColumnAction[];
  private readonly byIndex: Array<ColumnAction | undefined> = [];
  private readonly columnCount: number;
  private readonly line: CopyLineFormat | null;
  private readonly rewriter: FieldRewriter | null;
  private skipHeaderLine: boolean;
  private binaryHeaderSeen = false;

  private constructor(
    actions: ColumnAction[],
    columnCount: number,
    private readonly format: 'text' | 'csv' | 'binary',
    line: CopyLineFormat | null,
    header: boolean,
    refusal: string | null,
    private readonly op: Operation,
  ) {
    this.actions = actions;
    for (const a of actions) this.byIndex[a.index] = a;
    this.columnCount = columnCount;
    this.line = line;
    this.skipHeaderLine = header;
    this.refusal = refusal;
    this.passthrough = refusal === null && actions.length === 0;
    this.rewriter = format === 'binary' && actions.length > 0 ? new FieldRewriter(actions, op) : null;
  }

  /**
   * Plan a COPY TO from its analysis. Columns: the statement's list, else the table's columns from the catalog
   * (a `*` in a query expands to them too); types from the catalog. Labels go to `op` and the inventory.
   */
  static build(
    info: StatementInfo,
    catalog: CatalogCache,
    policy: CompiledPolicy,
    role: string,
    op: Operation,
    gov: ListenerGovernance,
    verdict?: LineageVerdict,
  ): CopyOutMasker {
    const copy = info.copy;
    const format = copy?.format ?? 'text';
    const line = format === 'binary' ? null : copyLineFormat(format === 'csv', copy?.options);
    const header = format !== 'binary' && copy?.options?.header === true;
    const binary = format === 'binary' ? 1 : 0;
    const outputs = verdict?.outputs ?? null;
    let columns = copy ? describeCopyColumns(copy.object, copy.columns, catalog, binary) : null;
    if (outputs && !outputs.some((o) => o.kind === 'spread') && (columns === null || columns.length !== outputs.length)) {
      // Lineage knows the outputs of `COPY (query)` better than the statement's text: one column per output.
      columns = outputs.map((o) => {
        const plain = o.lineage.plain;
        const type = plain ? catalog.columnInfoOf(plain.object)?.find((c) => c.name === plain.column)?.typeOid : undefined;
        return { name: o.kind === 'column' ? o.name : '?column?', object: undefined, sourceName: undefined, typeOid: type ?? TypeOid.text, format: binary };
      });
    }
    if (columns === null) {
      const refusal = policy.scansValuesFor(role) || policy.masksAnyFor(role)
        ? 'COPY output cannot be masked: its columns could not be resolved (name the columns, or COPY a single table)'
        : null;
      return new CopyOutMasker([], 0, format, line, header, refusal, op);
    }
    const overrides = outputs ? alignOutputs(outputs, columns.map((c) => c.name), policy, policy.onUnknownLineage(role) === 'mask') : undefined;
    if (binary && overrides?.some((o) => o?.kind === 'derived' && policy.derivedPlan(role, o.labels, 'text').mode === 'mask')) {
      // A derived column's type is not known here, and binary COPY cannot carry a redaction of another type.
      return new CopyOutMasker([], 0, format, line, header, 'COPY output cannot be masked: binary COPY of computed columns from classified data (use text or CSV format)', op);
    }
    const actions = planColumns(columns, policy, role, op, gov, overrides);
    return new CopyOutMasker(actions, columns.length, format, line, header, null, op);
  }

  /** Mask one full CopyData message ('d', int32 length, data). Returns the same Buffer when nothing changed. */
  maskCopyData(message: Buffer): Buffer {
    if (this.refusal !== null) throw new CopyMaskRefusedError(this.refusal);
    if (this.format === 'binary') return this.maskBinary(message);
    const text = message.toString('utf8', COPY_DATA_HEADER);
    const f = this.line!;
    let out = '';
    let from = 0;
    let changed = false;
    for (const record of splitCopyRecords(text, f)) {
      if (this.skipHeaderLine) {
        this.skipHeaderLine = false;
        continue;
      }
      this.op.rows++;
      if (this.actions.length === 0) continue;
      if (record.fields.length !== this.columnCount) {
        throw new CopyMaskRefusedError(`COPY output cannot be masked: a line has ${record.fields.length} fields, expected ${this.columnCount}`);
      }
      for (let index = 0; index < record.fields.length; index++) {
        const field = record.fields[index]!;
        const action = this.byIndex[index];
        if (action === undefined || field.value === null) continue;
        const bytes = Buffer.from(field.value, 'utf8');
        let replacement: string | null;
        if (action.codec.maskElements !== undefined) {
          const masked = action.codec.maskElements(bytes, 0, bytes.length, action.plan, this.op);
          if (masked === undefined) continue;
          replacement = masked.toString('utf8');
        } else {
          const value = action.codec.decode(bytes, 0, bytes.length);
          const masked = action.plan.apply(value, this.op);
          if (masked === value) continue;
          const encoded = action.codec.encode(masked);
          replacement = encoded === null ? null : encoded.toString('utf8');
        }
        out += text.slice(from, field.start) + (f.csv ? encodeCopyCsv(replacement, f) : encodeCopyText(replacement, f));
        from = field.end;
        changed = true;
      }
    }
    if (!changed) return message;
    out += text.slice(from);
    const body = Buffer.from(out, 'utf8');
    const result = Buffer.allocUnsafe(COPY_DATA_HEADER + body.length);
    result[0] = message[0]!;
    result.writeInt32BE(4 + body.length, 1);
    body.copy(result, COPY_DATA_HEADER);
    return result;
  }

  /** Binary COPY: signature header (with the first tuple), tuples of int16 count + fields, trailer int16 -1. */
  private maskBinary(message: Buffer): Buffer {
    let pos = COPY_DATA_HEADER;
    const end = message.length;
    if (!this.binaryHeaderSeen) {
      if (end - pos < 19 || !message.subarray(pos, pos + 11).equals(BINARY_SIGNATURE)) {
        throw new CopyMaskRefusedError('COPY output cannot be masked: binary COPY header not found');
      }
      pos += 15;
      pos += 4 + message.readInt32BE(pos);
      this.binaryHeaderSeen = true;
    }
    const rewriter = this.rewriter;
    rewriter?.reset();
    while (pos < end) {
      if (pos + 2 > end) throw new CopyMaskRefusedError('COPY output cannot be masked: a binary tuple spans messages');
      const count = message.readInt16BE(pos);
      pos += 2;
      if (count === -1) continue;
      this.op.rows++;
      if (rewriter === null) {
        pos = skipFields(message, pos, count, end);
      } else {
        if (count !== this.columnCount) throw new CopyMaskRefusedError(`COPY output cannot be masked: a tuple has ${count} fields, expected ${this.columnCount}`);
        pos = rewriter.scan(message, pos, count, end, true);
      }
      if (pos < 0) throw new CopyMaskRefusedError('COPY output cannot be masked: a binary tuple spans messages');
    }
    return rewriter?.changed ? rewriter.rebuild(message) : message;
  }
}

function skipFields(msg: Buffer, pos: number, count: number, end: number): number {
  for (let i = 0; i < count; i++) {
    if (pos + 4 > end) return -1;
    const len = msg.readInt32BE(pos);
    pos += 4 + (len > 0 ? len : 0);
    if (pos > end) return -1;
  }
  return pos;
}

/** The columns a COPY emits, described for planning; null when they cannot be known. */
function describeCopyColumns(object: string | null, names: readonly string[] | null, catalog: CatalogCache, format: number): DescribedColumn[] | null {
  const table = object !== null ? catalog.columnInfoOf(object) : undefined;
  const typeOf = (name: string): number => table?.find((c) => c.name === name)?.typeOid ?? TypeOid.text;
  const described = (name: string): DescribedColumn => {
    const known = table?.some((c) => c.name === name) === true;
    return { name, object: known ? object! : undefined, sourceName: known ? name : undefined, typeOid: typeOf(name), format };
  };
  if (names === null) {
    if (!table) return null;
    return table.map((c) => described(c.name));
  }
  const out: DescribedColumn[] = [];
  for (const name of names) {
    if (name === '*') {
      if (!table) return null;
      for (const c of table) out.push(described(c.name));
    } else out.push(described(name));
  }
  return out;
}
