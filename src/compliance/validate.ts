/**
 * `POST /api/v1/governance/compliance/validate`: checks a described data set against one framework's rules
 * (see rules.ts for exactly what each checks). Values in `data` are never echoed back: `current_value`
 * describes the state ("unclassified", "not encrypted") instead.
 */
import type { PolicySummary } from '../policy/types.js';
import { ValidationError } from './errors.js';
import { financialPattern, lookupField, personalPattern, phiPattern } from './names.js';
import { SEVERITIES, normalizeFramework, ruleById, scoreOf, type Framework, type Severity } from './rules.js';

/** One violation in the response. */
export interface Violation {
  rule_id: string;
  severity: Severity;
  message: string;
  /** The field concerned, or '*' for the whole request. */
  field: string;
  /** A description of the current state; never the field's value. */
  current_value: string;
  expected_value: string;
  remediation: string;
}

export interface ValidationResponse {
  framework: Framework;
  status: 'compliant' | 'non_compliant';
  score: number;
  violations: Record<Severity, Violation[]>;
  total_violations: number;
  validated_at: string;
}

/** The request context of the brief (all optional). */
interface Context {
  user_id?: unknown;
  audit_enabled?: unknown;
  data_classification?: unknown;
  field_classifications?: Record<string, unknown>;
  encryption_status?: Record<string, unknown>;
  retention_days?: unknown;
  max_retention_days?: unknown;
  data_age_days?: unknown;
  created_at?: unknown;
  approver_id?: unknown;
  initiator_id?: unknown;
  requires_approval?: unknown;
  role?: unknown;
  access_role?: unknown;
  encryption_in_transit?: unknown;
  tls?: unknown;
}

const LEVELS = ['public', 'internal', 'confidential', 'restricted'];
const PERSONAL_OK = /^(confidential|restricted|pii|personal|sensitive|phi|financial|secret)([._:-].*)?$/i;
const NON_CLINICAL_ROLE = /analy|audit|report|research|market|\bbi\b/i;
const DEFAULT_MAX_RETENTION_DAYS = 365;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Show a label or status only when it is a plain token (never an arbitrary string someone put there). */
function describeToken(x: unknown): string | null {
  return typeof x === 'string' && /^[\w.*:-]{1,64}$/.test(x) ? x : null;
}

function present(x: unknown): boolean {
  return x !== undefined && x !== null && !(typeof x === 'string' && x.trim() === '');
}

function num(x: unknown): number | null {
  const n = typeof x === 'string' && x.trim() !== '' ? Number(x) : x;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** Field names of `data`, nested plain objects flattened to dotted paths (depth-limited). */
function fieldNames(data: Record<string, unknown>, prefix = '', depth = 0, out: string[] = []): string[] {
  for (const [k, v] of Object.entries(data)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && depth < 3 && Object.keys(v).length > 0) fieldNames(v, name, depth + 1, out);
    else out.push(name);
  }
  return out;
}

/** Look a (possibly dotted) field up by full path, then by its last segment. */
function lookup<T>(map: Record<string, T> | undefined, field: string): T | undefined {
  const v = lookupField(map, field);
  if (v !== undefined || !field.includes('.')) return v;
  return lookupField(map, field.slice(field.lastIndexOf('.') + 1));
}

type Emit = (ruleId: string, v: Omit<Violation, 'rule_id' | 'severity'>) => void;

function checkGdpr(fields: string[], ctx: Context, emit: Emit): void {
  const personal = fields.filter((f) => personalPattern(f));
  for (const field of personal) {
    const label = lookup(ctx.field_classifications, field);
    if (label === undefined || label === null || label === '') {
      emit('GDPR-001', {
        message: `Field '${field}' looks like personal data (${personalPattern(field)}) but is not classified`,
        field,
        current_value: 'unclassified',
        expected_value: 'confidential, restricted or pii.*',
        remediation: `Classify '${field}' as personal data (e.g. field_classifications.${field} = "confidential" or a pii.* label) and mask it for roles that do not need it.`,
      });
    } else if (typeof label !== 'string' || !PERSONAL_OK.test(label)) {
      const shown = describeToken(label);
      emit('GDPR-001', {
        message: `Field '${field}' looks like personal data (${personalPattern(field)}) but is classified as ${shown ? `'${shown}'` : 'something else'}`,
        field,
        current_value: shown ? `classified as ${shown}` : 'misclassified',
        expected_value: 'confidential, restricted or pii.*',
        remediation: `Reclassify '${field}' as personal data (confidential, restricted or a pii.* label).`,
      });
    }
  }
  if (personal.length === 0) return;
  const max = num(ctx.max_retention_days) ?? DEFAULT_MAX_RETENTION_DAYS;
  const retention = num(ctx.retention_days);
  let age = num(ctx.data_age_days);
  if (age === null && typeof ctx.created_at === 'string') {
    const t = Date.parse(ctx.created_at);
    if (Number.isFinite(t)) age = Math.floor((Date.now() - t) / 86_400_000);
  }
  if (retention !== null && retention > max) {
    emit('GDPR-002', {
      message: `Personal data is retained for ${retention} days, longer than the stated maximum of ${max} days`,
      field: '*',
      current_value: `${retention} days`,
      expected_value: `at most ${max} days`,
      remediation: 'Shorten the retention period, or delete/anonymize personal data once it is no longer needed.',
    });
  }
  if (age !== null && age > max) {
    emit('GDPR-002', {
      message: `Personal data is ${age} days old, older than the stated maximum retention of ${max} days`,
      field: '*',
      current_value: `${age} days old`,
      expected_value: `at most ${max} days`,
      remediation: 'Delete or anonymize personal data past its retention period.',
    });
  }
}

function checkHipaa(fields: string[], ctx: Context, emit: Emit): void {
  const phi = fields.filter((f) => phiPattern(f));
  if (phi.length === 0) return;
  for (const field of phi) {
    const status = lookup(ctx.encryption_status, field);
    if (typeof status === 'string' && status.toLowerCase() === 'encrypted') continue;
    const shown = describeToken(status);
    emit('HIPAA-001', {
      message: `Field '${field}' looks like PHI (${phiPattern(field)}) but is not encrypted`,
      field,
      current_value: shown ? shown : 'not encrypted',
      expected_value: 'encrypted',
      remediation: `Encrypt '${field}' at rest and serve it only over TLS on both legs (client and upstream).`,
    });
  }
  if (ctx.encryption_in_transit === false || ctx.tls === false) {
    emit('HIPAA-001', {
      message: 'PHI is transmitted without encryption in transit',
      field: '*',
      current_value: 'not encrypted in transit',
      expected_value: 'TLS on both legs',
      remediation: 'Enable TLS between the client and dgf and between dgf and the database.',
    });
  }
  const cls = describeToken(ctx.data_classification);
  if (!cls || !['restricted', 'confidential'].includes(cls.toLowerCase())) {
    emit('HIPAA-002', {
      message: `PHI (${phi.join(', ')}) is handled under ${cls ? `classification '${cls}'` : 'no data classification'}; minimum necessary access requires restricted or confidential handling`,
      field: phi.join(', '),
      current_value: cls ? `classified as ${cls}` : 'unclassified',
      expected_value: 'restricted or confidential',
      remediation: 'Classify the data set as restricted (or confidential) and limit access to roles that need PHI.',
    });
  }
  const role = ctx.role ?? ctx.access_role;
  if (typeof role === 'string' && NON_CLINICAL_ROLE.test(role)) {
    const shown = describeToken(role) ?? 'this role';
    emit('HIPAA-002', {
      message: `Role '${shown}' is a read-only analytics/audit role and is not entitled to identifiable PHI`,
      field: phi.join(', '),
      current_value: `PHI visible to role ${shown}`,
      expected_value: 'PHI masked or de-identified for non-clinical roles',
      remediation: 'Mask or de-identify PHI for this role (e.g. a redact or hash mask with except: [clinician]).',
    });
  }
}

function checkSox(fields: string[], ctx: Context, emit: Emit): void {
  const fin = fields.filter((f) => financialPattern(f));
  if (fin.length > 0) {
    const list = fin.join(', ');
    if (!present(ctx.user_id)) {
      emit('SOX-001', {
        message: `Financial data (${list}) is accessed without a user identity`,
        field: list,
        current_value: 'no user_id',
        expected_value: 'an identified user',
        remediation: 'Require an authenticated, named user for every operation on financial data.',
      });
    }
    if (ctx.audit_enabled !== true) {
      emit('SOX-001', {
        message: `Financial data (${list}) is accessed without an audit trail`,
        field: list,
        current_value: ctx.audit_enabled === false ? 'audit disabled' : 'audit not confirmed',
        expected_value: 'audit_enabled: true',
        remediation: 'Route access through dgf with a file audit sink (failMode: closed) so every operation is recorded.',
      });
    }
  }
  const financialTx = fin.length > 0;
  if (financialTx && present(ctx.initiator_id) && present(ctx.approver_id) && String(ctx.initiator_id) === String(ctx.approver_id)) {
    emit('SOX-002', {
      message: 'The initiator of this financial transaction is also its approver',
      field: 'approver_id',
      current_value: 'approver is the initiator',
      expected_value: 'an approver other than the initiator',
      remediation: 'Require approval by a different user (role-based approval workflow).',
    });
  } else if (financialTx && ctx.requires_approval === true && !present(ctx.approver_id)) {
    emit('SOX-002', {
      message: 'This financial transaction requires approval but has no approver',
      field: 'approver_id',
      current_value: 'no approver',
      expected_value: 'an approver other than the initiator',
      remediation: 'Route the transaction through the approval workflow before it is executed.',
    });
  }
}

function checkIso(fields: string[], ctx: Context, emit: Emit): void {
  if (ctx.audit_enabled !== true) {
    emit('ISO-001', {
      message: 'Audit logging is not enabled',
      field: '*',
      current_value: ctx.audit_enabled === false ? 'audit disabled' : 'audit not confirmed',
      expected_value: 'audit_enabled: true',
      remediation: 'Enable the audit trail (a file sink with failMode: closed).',
    });
  }
  const sensitive = fields.filter((f) => personalPattern(f) || phiPattern(f) || financialPattern(f));
  const unencrypted = sensitive.filter((f) => {
    const s = lookup(ctx.encryption_status, f);
    return !(typeof s === 'string' && s.toLowerCase() === 'encrypted');
  });
  if (unencrypted.length > 0) {
    emit('ISO-001', {
      message: `${unencrypted.length} sensitive field(s) are not encrypted: ${unencrypted.join(', ')}`,
      field: unencrypted.join(', '),
      current_value: 'not encrypted',
      expected_value: 'encrypted',
      remediation: 'Encrypt sensitive fields at rest and use TLS in transit.',
    });
  }
  const cls = describeToken(ctx.data_classification);
  if (!cls || !LEVELS.includes(cls.toLowerCase())) {
    emit('ISO-001', {
      message: cls ? `Data classification '${cls}' is not a known level` : 'The data set has no classification',
      field: '*',
      current_value: cls ? `classified as ${cls}` : 'unclassified',
      expected_value: LEVELS.join(', '),
      remediation: 'Classify the data set as public, internal, confidential or restricted.',
    });
  }
  if (!present(ctx.user_id)) {
    emit('ISO-001', {
      message: 'Access is not tied to an identified user',
      field: '*',
      current_value: 'no user_id',
      expected_value: 'an identified user',
      remediation: 'Authenticate users individually (no shared or anonymous access).',
    });
  }
}

const CHECKS: Record<Framework, (fields: string[], ctx: Context, emit: Emit) => void> = {
  gdpr: checkGdpr,
  hipaa: checkHipaa,
  sox: checkSox,
  iso27001: checkIso,
};

/**
 * Validate a request body of the brief's shape. Throws ValidationError (status 400) for a body that is not an
 * object, a missing or unknown framework (the message lists the known ones), or `data` that is not an object.
 * `policy`, when given, supplies the live packs' severities for the rule ids (else the brief's).
 */
export function validateCompliance(body: unknown, policy?: { summaries(framework?: string): PolicySummary[] }): ValidationResponse {
  if (!isPlainObject(body)) throw new ValidationError('request body must be a JSON object {framework, data, context}');
  const framework = normalizeFramework(body.framework);
  const data = body.data ?? {};
  if (!isPlainObject(data)) throw new ValidationError('data must be an object of field names to values');
  const rawCtx = body.context ?? {};
  if (!isPlainObject(rawCtx)) throw new ValidationError('context must be an object');
  const ctx: Context = {
    ...rawCtx,
    field_classifications: isPlainObject(rawCtx.field_classifications) ? rawCtx.field_classifications : undefined,
    encryption_status: isPlainObject(rawCtx.encryption_status) ? rawCtx.encryption_status : undefined,
  };

  const severities = new Map<string, Severity>();
  try {
    for (const s of policy?.summaries(framework) ?? []) if (SEVERITIES.includes(s.severity)) severities.set(s.id, s.severity);
  } catch {
    // a policy engine that cannot list its rules: fall back to the brief's severities
  }
  const violations: Record<Severity, Violation[]> = { critical: [], high: [], medium: [], low: [] };
  const emit: Emit = (ruleId, v) => {
    const severity = severities.get(ruleId) ?? ruleById(ruleId)?.severity ?? 'high';
    violations[severity].push({ rule_id: ruleId, severity, ...v });
  };
  CHECKS[framework](fieldNames(data), ctx, emit);
  const counts = { critical: violations.critical.length, high: violations.high.length, medium: violations.medium.length, low: violations.low.length };
  const total = counts.critical + counts.high + counts.medium + counts.low;
  return {
    framework,
    status: total === 0 ? 'compliant' : 'non_compliant',
    score: scoreOf(counts),
    violations,
    total_violations: total,
    validated_at: new Date().toISOString(),
  };
}
