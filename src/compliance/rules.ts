/**
 * The compliance rules of the product brief, and what makes each pass or fail — in a validation request
 * (`POST /api/v1/governance/compliance/validate`) and in the audit trail (`dgf report`).
 */
import { ValidationError } from './errors.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';

/** Frameworks dgf knows, as accepted by validate and report. */
export const FRAMEWORKS = ['gdpr', 'hipaa', 'sox', 'iso27001'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** A rule as listed for tooling and reports. */
export interface ComplianceRule {
  id: string;
  framework: Framework;
  severity: Severity;
  name: string;
  description: string;
  /** What the validation API checks, and when it fails. */
  validation: string;
  /** What in traffic / the audit trail makes it fail in a report. */
  audit: string;
}

/** Points deducted per violation (validate) or per violated rule (report). */
export const SEVERITY_POINTS: Record<Severity, number> = { critical: 25, high: 15, medium: 10, low: 5 };
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/** 100 - 25/critical - 15/high - 10/medium - 5/low, never below 0. */
export function scoreOf(counts: Record<Severity, number>): number {
  let s = 100;
  for (const sev of SEVERITIES) s -= SEVERITY_POINTS[sev] * counts[sev];
  return Math.max(0, s);
}

export const RULES: readonly ComplianceRule[] = [
  {
    id: 'GDPR-001',
    framework: 'gdpr',
    severity: 'high',
    name: 'Personal data identification',
    description: 'Fields that look personal must be classified as personal data.',
    validation:
      'Fails for every field whose name looks personal (email, phone, ssn, social_security, passport, license, first_name, last_name, full_name, address, zip_code, birth_date, date_of_birth, credit_card, bank_account; case/snake/camel-insensitive, "contains") that has no entry in context.field_classifications, or one other than confidential, restricted, pii*, personal*, sensitive*, phi*, financial*, secret*.',
    audit:
      'Fails for each allowed, successful read whose record carries a pii.* label that is not in its `masked` counts, by a role that is not exempt (default exempt: dpo, admin): personal data reached a role in clear.',
  },
  {
    id: 'GDPR-002',
    framework: 'gdpr',
    severity: 'medium',
    name: 'Data retention',
    description: 'Personal data is kept no longer than the stated retention.',
    validation:
      'When the data holds personal fields: fails if context.retention_days, context.data_age_days, or the age of context.created_at exceeds context.max_retention_days (default 365).',
    audit:
      'Fails for records that a governance rule flagged with GDPR-002 (extra.violations), or denied/errored operations whose `rules` list GDPR-002; retention cannot otherwise be seen in traffic.',
  },
  {
    id: 'HIPAA-001',
    framework: 'hipaa',
    severity: 'critical',
    name: 'PHI encryption',
    description: 'PHI is encrypted at rest and in transit.',
    validation:
      'Fails for every field that looks like PHI (patient_id, medical_record, diagnosis, treatment, medication, insurance, provider_id, health_plan, prescription) whose context.encryption_status is not "encrypted", and once when context.encryption_in_transit or context.tls is false while PHI is present.',
    audit: 'Fails for each record carrying a phi.* label on a connection whose record says it was not encrypted (extra.tls === false).',
  },
  {
    id: 'HIPAA-002',
    framework: 'hipaa',
    severity: 'high',
    name: 'Minimum necessary access',
    description: 'Access to PHI is limited to what the role needs.',
    validation:
      'When PHI fields are present: fails if context.data_classification is not restricted or confidential (PHI must be handled as such), and fails if context.role (or access_role) is a read-only analytics, reporting, research, marketing or audit role, which must get de-identified data.',
    audit:
      'Fails for each allowed, successful read whose record carries a phi.* label not in its `masked` counts, by a role that is not exempt (default exempt: clinician).',
  },
  {
    id: 'SOX-001',
    framework: 'sox',
    severity: 'critical',
    name: 'Financial data audit trail',
    description: 'Every operation on financial data carries a user identity and is audited.',
    validation:
      'When fields look financial (amount, balance, salary, payroll, revenue, income, expense, profit, invoice, payment, transaction, ledger, account_number, bank_account, routing_number, iban, credit_card, card_number, price, cost, tax): fails if context.user_id is missing, and fails if context.audit_enabled is not true.',
    audit: 'Fails for each record carrying a financial.* label whose identity has no user (empty, "anonymous" or "unknown").',
  },
  {
    id: 'SOX-002',
    framework: 'sox',
    severity: 'high',
    name: 'Segregation of duties',
    description: 'Users cannot approve their own financial transactions.',
    validation:
      'Fails when context.initiator_id equals context.approver_id on data with financial fields, or when context.requires_approval is true and no approver_id is given.',
    audit:
      'Fails for each record on financial.* data whose extra.initiator_id equals extra.approver_id, or that a governance rule flagged with SOX-002 (extra.violations).',
  },
  {
    id: 'ISO-001',
    framework: 'iso27001',
    severity: 'high',
    name: 'Information security controls',
    description: 'Information security controls (audit logging, encryption, classification, access control) are implemented.',
    validation:
      'One violation per missing control: context.audit_enabled not true; sensitive fields (personal, PHI, financial) not all encrypted in context.encryption_status; context.data_classification missing or not public/internal/confidential/restricted; context.user_id missing.',
    audit:
      'Fails once for records without an identified user (missing identity), and once per hour in which at least 20 records were seen and at least half of them were denied or failed (an error/denial spike).',
  },
];

/** Normalize a framework name (`ISO-27001`, `iso` -> `iso27001`); throws ValidationError (400) when unknown. */
export function normalizeFramework(name: unknown): Framework {
  const known = `known frameworks: ${FRAMEWORKS.join(', ')}`;
  if (typeof name !== 'string' || name.trim() === '') throw new ValidationError(`framework is required; ${known}`);
  let f = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (f === 'iso') f = 'iso27001';
  if (!(FRAMEWORKS as readonly string[]).includes(f)) throw new ValidationError(`unknown framework '${name.slice(0, 64)}'; ${known}`);
  return f as Framework;
}

/** Rules of one framework (or all). Throws ValidationError for an unknown framework. */
export function listComplianceRules(framework?: string): ComplianceRule[] {
  if (framework === undefined || framework === '') return [...RULES];
  const f = normalizeFramework(framework);
  return RULES.filter((r) => r.framework === f);
}

export function ruleById(id: string): ComplianceRule | undefined {
  return RULES.find((r) => r.id === id);
}
