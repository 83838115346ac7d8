/**
 * Compliance reports computed only from audit records (`dgf report`, GET /api/v1/governance/compliance/report).
 * Every number is a count over the records of the period; see rules.ts (`audit`) for what makes each rule fail.
 *
 * Score: 100 - 25 per violated critical rule - 15 per high - 10 per medium - 5 per low, floor 0. A rule violated
 * in the period deducts once (the validate API's formula applied to rule findings); `count` says how often.
 */
import type { AuditEntry, AuditRecord } from '../audit/types.js';
import { fileLines } from '../audit/lines.js';
import { OperationJoiner } from '../audit/operations.js';
import { RULES, SEVERITIES, normalizeFramework, scoreOf, type ComplianceRule, type Framework, type Severity } from './rules.js';

/** A line of an audit file that could not be used. */
export interface BadLine {
  file: string;
  /** 1-based; 0 when the whole file could not be read. */
  line: number;
  reason: string;
}

export interface ReportOptions {
  framework: string;
  /** Inclusive lower bound on record ts. */
  since?: Date;
  /** Exclusive upper bound on record ts. */
  until?: Date;
  /** Roles allowed to see a framework's labels in clear; default gdpr: dpo, admin; hipaa: clinician. */
  exemptRoles?: Partial<Record<Framework, string[]>>;
  /** Bad lines met while reading (filled by `readAuditFiles`; read once the records are consumed). */
  problems?: BadLine[];
  /** Files the records came from, for the report header. */
  sources?: string[];
}

/** One record given as an example of a violation (no values, only who/what/where). */
export interface ViolationExample {
  seq: number;
  ts: string;
  user: string | null;
  role: string;
  operation: string;
  object: string | null;
  reason: string;
}

/** A violated rule with how often and examples. */
export interface RuleFinding {
  rule_id: string;
  severity: Severity;
  name: string;
  /** Records (or, for ISO-001 spikes, hours) that violated it. */
  count: number;
  first_ts: string;
  last_ts: string;
  examples: ViolationExample[];
}

export interface LabelUsage {
  label: string;
  /** Operations whose record carries the label. */
  operations: number;
  /** Of those, operations where the label was masked (masked count > 0). */
  masked_operations: number;
  /** Allowed, successful reads that returned the label unmasked. */
  clear_operations: number;
  /** Sum of the masked counts. */
  masked_values: number;
  /** Sum of rows of those operations. */
  rows: number;
}

export interface ActorUsage {
  user: string | null;
  role: string;
  operations: number;
  denials: number;
  errors: number;
  /** Label -> operations. */
  labels: Record<string, number>;
}

export interface Report {
  framework: Framework;
  generated_at: string;
  period: { since: string | null; until: string | null; first_record: string | null; last_record: string | null };
  source: { files: string[]; records_read: number; records_in_period: number; bad_lines: number; problems: BadLine[] };
  status: 'compliant' | 'non_compliant';
  score: number;
  violations: Record<Severity, RuleFinding[]>;
  violations_by_rule: Record<string, number>;
  /** Sum of finding counts. */
  total_violations: number;
  /** Every rule of the framework with pass/fail. */
  rules: { id: string; severity: Severity; name: string; status: 'pass' | 'fail'; count: number; how: string }[];
  /** Operations on the framework's labels (gdpr pii.*, hipaa phi.*, sox financial.*, iso27001 all sensitive). */
  data_touched: LabelUsage[];
  /** Who touched the framework's labels. */
  who: ActorUsage[];
  denials: { total: number; by_rule: Record<string, number>; by_user: Record<string, number> };
  errors: number;
}

const FAMILIES: Record<Framework, string[]> = {
  gdpr: ['pii'],
  hipaa: ['phi'],
  sox: ['financial'],
  iso27001: ['pii', 'phi', 'financial', 'secret'],
};

const DEFAULT_EXEMPT: Record<Framework, string[]> = { gdpr: ['dpo', 'admin'], hipaa: ['clinician'], sox: [], iso27001: [] };

const WRITE_OP =
  /^(insert|update|delete|upsert|replace|set|setex|hset|hmset|mset|del|unlink|expire|incr|decr|lpush|rpush|sadd|zadd|put|create|drop|truncate|alter|copy|write|bulkwrite|findandmodify|findoneandupdate|findoneanddelete|deletemany|deleteone|updatemany|updateone|insertmany|insertone|flush|grant|revoke)/i;
const NO_USER = new Set(['', 'anonymous', 'unknown']);
const MAX_EXAMPLES = 5;
const MAX_PROBLEMS = 50;
const SPIKE_MIN_RECORDS = 20;
const SPIKE_RATIO = 0.5;

function inFamily(label: string, family: string[]): boolean {
  for (const f of family) if (label === f || label.startsWith(f + '.')) return true;
  return false;
}

function userOf(r: AuditRecord): string | null {
  const u = r.identity && typeof r.identity === 'object' ? r.identity.user : undefined;
  return typeof u === 'string' && !NO_USER.has(u.trim().toLowerCase()) ? u : null;
}

/** Rule ids a governance layer flagged on the record (extra.violations). */
function flagged(r: AuditRecord, id: string): boolean {
  const v = r.extra?.violations;
  return Array.isArray(v) && v.includes(id);
}

/** An allowed, successful read that returned rows. */
function returnedData(r: AuditRecord): boolean {
  return r.decision === 'allow' && !r.error && (r.rows === null || r.rows === undefined || r.rows > 0) && !WRITE_OP.test(r.operation ?? '');
}

function clearLabels(r: AuditRecord, family: string[]): string[] {
  const masked = r.masked ?? {};
  return (r.labels ?? []).filter((l) => inFamily(l, family) && !((masked[l] ?? 0) > 0));
}

/** One entry of a batch record as a record of its own (the audit file leaves an entry's empty fields out). */
function entryRecord(r: AuditRecord, e: AuditEntry): AuditRecord {
  return {
    ...r,
    operation: e.operation,
    object: e.object ?? null,
    statement: e.statement ?? null,
    labels: Array.isArray(e.labels) ? e.labels : [],
    masked: e.masked && typeof e.masked === 'object' ? e.masked : {},
    rows: typeof e.rows === 'number' ? e.rows : null,
    decision: e.decision,
    rules: Array.isArray(e.rules) ? e.rules : [],
    error: e.error ?? null,
    entries: undefined,
  };
}

/** Accumulates one framework's report, record by record. */
class ReportBuilder {
  private readonly family: string[];
  private readonly exempt: Set<string>;
  private readonly rules: ComplianceRule[];
  private readonly findings = new Map<string, RuleFinding>();
  private readonly labels = new Map<string, LabelUsage>();
  private readonly actors = new Map<string, ActorUsage>();
  private readonly hours = new Map<string, { n: number; bad: number; first: AuditRecord }>();
  private readonly sinceMs: number;
  private readonly untilMs: number;
  private read = 0;
  private inPeriod = 0;
  private first: string | null = null;
  private last: string | null = null;
  private errors = 0;
  private readonly denials = { total: 0, by_rule: {} as Record<string, number>, by_user: {} as Record<string, number> };

  constructor(
    readonly framework: Framework,
    private readonly opts: ReportOptions,
  ) {
    this.family = FAMILIES[framework];
    this.exempt = new Set((opts.exemptRoles?.[framework] ?? DEFAULT_EXEMPT[framework]).map((r) => r.toLowerCase()));
    this.rules = RULES.filter((r) => r.framework === framework);
    this.sinceMs = opts.since ? opts.since.getTime() : -Infinity;
    this.untilMs = opts.until ? opts.until.getTime() : Infinity;
  }

  private violate(id: string, r: AuditRecord, reason: string, count = 1): void {
    const rule = this.rules.find((x) => x.id === id);
    if (!rule) return;
    let f = this.findings.get(id);
    if (!f) {
      f = { rule_id: id, severity: rule.severity, name: rule.name, count: 0, first_ts: r.ts, last_ts: r.ts, examples: [] };
      this.findings.set(id, f);
    }
    f.count += count;
    if (r.ts < f.first_ts) f.first_ts = r.ts;
    if (r.ts > f.last_ts) f.last_ts = r.ts;
    if (f.examples.length < MAX_EXAMPLES) {
      f.examples.push({ seq: r.seq, ts: r.ts, user: userOf(r), role: r.role, operation: r.operation, object: r.object ?? null, reason });
    }
  }

  add(r: AuditRecord): void {
    this.read++;
    const t = Date.parse(r.ts);
    if (!(t >= this.sinceMs && t < this.untilMs)) return;
    this.inPeriod++;
    if (this.first === null || r.ts < this.first) this.first = r.ts;
    if (this.last === null || r.ts > this.last) this.last = r.ts;
    const entries = r.entries;
    if (Array.isArray(entries) && entries.length > 0) {
      // A batch record (a pipeline, or commands of one subject recorded together): each entry is one operation,
      // under the record's identity, role, time and connection facts.
      for (const e of entries) if (e && typeof e === 'object') this.addOperation(entryRecord(r, e));
    } else {
      this.addOperation(r);
    }
  }

  private addOperation(r: AuditRecord): void {
    const user = userOf(r);
    const denied = r.decision === 'deny';
    if (denied) {
      this.denials.total++;
      // The policy engine stops at the denying rule: it is the last of the matched rules.
      const rule = (Array.isArray(r.rules) ? r.rules[r.rules.length - 1] : undefined) ?? '(none)';
      this.denials.by_rule[rule] = (this.denials.by_rule[rule] ?? 0) + 1;
      const u = user ?? '(no user)';
      this.denials.by_user[u] = (this.denials.by_user[u] ?? 0) + 1;
    }
    if (r.error) this.errors++;

    const famLabels = (r.labels ?? []).filter((l) => inFamily(l, this.family));
    const reads = returnedData(r);
    if (famLabels.length > 0) {
      const key = `${user ?? ''}\u0000${r.role}`;
      let a = this.actors.get(key);
      if (!a) this.actors.set(key, (a = { user, role: r.role, operations: 0, denials: 0, errors: 0, labels: {} }));
      a.operations++;
      if (denied) a.denials++;
      if (r.error) a.errors++;
      const masked = r.masked ?? {};
      for (const l of famLabels) {
        a.labels[l] = (a.labels[l] ?? 0) + 1;
        let u = this.labels.get(l);
        if (!u) this.labels.set(l, (u = { label: l, operations: 0, masked_operations: 0, clear_operations: 0, masked_values: 0, rows: 0 }));
        u.operations++;
        const m = masked[l] ?? 0;
        if (m > 0) {
          u.masked_operations++;
          u.masked_values += m;
        } else if (reads) u.clear_operations++;
        u.rows += typeof r.rows === 'number' ? r.rows : 0;
      }
    }

    for (const rule of this.rules) if (flagged(r, rule.id)) this.violate(rule.id, r, 'flagged by a governance rule');
    switch (this.framework) {
      case 'gdpr':
      case 'hipaa': {
        if (reads && !this.exempt.has((r.role ?? '').toLowerCase())) {
          const clear = clearLabels(r, this.family);
          if (clear.length > 0) {
            this.violate(this.framework === 'gdpr' ? 'GDPR-001' : 'HIPAA-002', r, `${clear.join(', ')} returned unmasked to role ${r.role}`);
          }
        }
        if (this.framework === 'hipaa' && famLabels.length > 0 && (r.extra?.tls === false || r.extra?.client_tls === false || r.extra?.upstream_tls === false)) {
          this.violate('HIPAA-001', r, `${famLabels.join(', ')} on a connection without TLS`);
        }
        break;
      }
      case 'sox': {
        if (famLabels.length > 0 && user === null) this.violate('SOX-001', r, `${famLabels.join(', ')} touched without a user identity`);
        const ini = r.extra?.initiator_id;
        if (famLabels.length > 0 && ini !== undefined && ini !== null && ini !== '' && ini === r.extra?.approver_id) {
          this.violate('SOX-002', r, 'initiator approved their own financial transaction');
        }
        break;
      }
      case 'iso27001': {
        if (user === null) this.violate('ISO-001', r, 'operation without an identified user');
        const hour = (r.ts ?? '').slice(0, 13);
        let h = this.hours.get(hour);
        if (!h) this.hours.set(hour, (h = { n: 0, bad: 0, first: r }));
        h.n++;
        if (denied || r.error) h.bad++;
        break;
      }
    }
  }

  finish(): Report {
    for (const [hour, h] of this.hours) {
      if (h.n >= SPIKE_MIN_RECORDS && h.bad / h.n >= SPIKE_RATIO) {
        this.violate('ISO-001', h.first, `error/denial spike: ${h.bad} of ${h.n} operations denied or failed in the hour ${hour}:00Z`);
      }
    }
    const violations: Record<Severity, RuleFinding[]> = { critical: [], high: [], medium: [], low: [] };
    const byRule: Record<string, number> = {};
    let total = 0;
    for (const rule of this.rules) {
      const f = this.findings.get(rule.id);
      if (!f) continue;
      violations[f.severity].push(f);
      byRule[f.rule_id] = f.count;
      total += f.count;
    }
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, violations[s].length])) as Record<Severity, number>;
    const problems = this.opts.problems ?? [];
    return {
      framework: this.framework,
      generated_at: new Date().toISOString(),
      period: {
        since: this.opts.since?.toISOString() ?? null,
        until: this.opts.until?.toISOString() ?? null,
        first_record: this.first,
        last_record: this.last,
      },
      source: {
        files: this.opts.sources ?? [],
        records_read: this.read,
        records_in_period: this.inPeriod,
        bad_lines: problems.length,
        problems: problems.slice(0, MAX_PROBLEMS),
      },
      status: total === 0 ? 'compliant' : 'non_compliant',
      score: scoreOf(counts),
      violations,
      violations_by_rule: byRule,
      total_violations: total,
      rules: this.rules.map((r) => ({
        id: r.id,
        severity: r.severity,
        name: r.name,
        status: this.findings.has(r.id) ? ('fail' as const) : ('pass' as const),
        count: this.findings.get(r.id)?.count ?? 0,
        how: r.audit,
      })),
      data_touched: [...this.labels.values()].sort((a, b) => b.operations - a.operations || a.label.localeCompare(b.label)),
      who: [...this.actors.values()].sort((a, b) => b.operations - a.operations || String(a.user).localeCompare(String(b.user))),
      denials: this.denials,
      errors: this.errors,
    };
  }
}

/** Compute a report from records already in memory. Throws ValidationError for an unknown framework. */
export function computeReport(records: Iterable<AuditRecord>, opts: ReportOptions): Report {
  const b = new ReportBuilder(normalizeFramework(opts.framework), opts);
  const ops = new OperationJoiner();
  for (const r of records) {
    const op = ops.add(r);
    if (op) b.add(op);
  }
  for (const r of ops.unsettled()) b.add(r);
  return b.finish();
}

/** Compute a report from records streamed (e.g. `readAuditFiles`) or in memory. */
export async function buildReport(records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>, opts: ReportOptions): Promise<Report> {
  const b = new ReportBuilder(normalizeFramework(opts.framework), opts);
  // Write-ahead: an intent and its outcome are one operation (operations.ts).
  const ops = new OperationJoiner();
  for await (const r of records) {
    const op = ops.add(r);
    if (op) b.add(op);
  }
  for (const r of ops.unsettled()) b.add(r);
  return b.finish();
}

function toRecord(x: unknown): AuditRecord | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return null;
  const r = x as AuditRecord;
  if (typeof r.seq !== 'number' || typeof r.ts !== 'string' || Number.isNaN(Date.parse(r.ts))) return null;
  return r;
}

/**
 * Stream the records of audit files, in the order given. Lines that are not audit records are skipped and
 * pushed to `problems` (unreadable files too, with line 0); never throws for bad input.
 */
export async function* readAuditFiles(files: string[], problems: BadLine[] = []): AsyncGenerator<AuditRecord> {
  for (const file of files) {
    try {
      for await (const l of fileLines(file)) {
        if (l.text.trim() === '') continue;
        let rec: AuditRecord | null = null;
        try {
          rec = toRecord(JSON.parse(l.text));
        } catch {
          problems.push({ file, line: l.line, reason: l.terminated ? 'not valid JSON' : 'truncated last line' });
          continue;
        }
        if (rec) yield rec;
        else problems.push({ file, line: l.line, reason: 'not an audit record (seq or ts missing)' });
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({ file, line: 0, reason: code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}` });
    }
  }
}
