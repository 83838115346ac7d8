/** Compliance: the validation API and audit-derived reports. */
export { ValidationError } from './errors.js';
export { validateCompliance, type ValidationResponse, type Violation } from './validate.js';
export {
  FRAMEWORKS,
  RULES,
  listComplianceRules,
  normalizeFramework,
  scoreOf,
  type ComplianceRule,
  type Framework,
  type Severity,
} from './rules.js';
export {
  buildReport,
  computeReport,
  readAuditFiles,
  type BadLine,
  type Report,
  type ReportOptions,
  type RuleFinding,
} from './report.js';
export { renderReport, REPORT_FORMATS, type ReportFormat } from './render.js';
