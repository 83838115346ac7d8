/** Configuration defaults (SPEC "Configuration" and "Ports"). */
import type { AuditSinkConfig, ProtocolName } from './types.js';

/** Where each protocol listens when `listen` is omitted. */
export const DEFAULT_LISTEN: Record<ProtocolName, string> = {
  postgres: '127.0.0.1:6432',
  mongodb: '127.0.0.1:27018',
  redis: '127.0.0.1:6380',
  cosmos: '127.0.0.1:8082',
  blob: '127.0.0.1:10010',
};

export const DEFAULTS = {
  adminListen: '127.0.0.1:8080',
  packs: ['default', 'gdpr', 'hipaa', 'sox', 'iso27001'] as readonly string[],
  auditFile: './audit/audit.jsonl',
  audit: { sinks: [{ type: 'file', path: './audit/audit.jsonl', fsyncMs: 20 }] as AuditSinkConfig[] },
  stateDir: './.dgf-state',
  pool: 'transaction' as const,
  /** 16 MiB: larger frames are a protocol error for that client. */
  maxMessageBytes: 16 * 1024 * 1024,
  poolTimeoutMs: 30_000,
  authTimeoutMs: 10_000,
  /** upstream.connectTimeoutMs: opening one upstream connection (TCP, TLS, login). */
  upstreamConnectTimeoutMs: 5_000,
  /** upstream.replyTimeoutMs where a protocol applies one by default (Redis shared connections, HTTP headers). */
  upstreamReplyTimeoutMs: 30_000,
  /** Used when neither audit.chainKey nor policies.hashKey is set; dgf warns at start. */
  developmentKey: 'dgf-development-key-change-me',
};
