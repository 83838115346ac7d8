/** The audit trail's public interface: what protocols, the admin API and the CLI import. */
export type { AuditEntry, AuditEvent, AuditFailMode, AuditLog, AuditRecord } from './types.js';
export { createAuditLog, DEFAULT_FSYNC_MS, QUEUED, type AuditLogOptions } from './log.js';
export { verifyAuditFiles, type VerifyProblem, type VerifyResult } from './verify.js';
export { GENESIS } from './chain.js';
export { auditFilesOf, rotatedFiles, DEFAULT_ROTATE_BYTES } from './sinks/file.js';
export type { AuditSink, AuditLogger, ChainHead } from './sinks/types.js';
