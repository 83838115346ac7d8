/**
 * The demo's configuration: what `dgf start` runs when there is no config file. It is the raw object a dgf.yaml
 * would parse to, so it goes through the same validation as any user config.
 */
import path from 'node:path';

/** Users of the demo listener and their passwords (SCRAM-SHA-256 to the client). Demo only: never reuse. */
export const DEMO_USERS = [
  { name: 'analyst', password: 'analyst' },
  { name: 'dpo', password: 'dpo' },
  { name: 'admin', password: 'admin' },
] as const;

/**
 * Admin API on 127.0.0.1:8080, a Postgres listener on 127.0.0.1:6432 in front of `upstreamUrl` (one upstream
 * connection: PGlite is one session), the shipped policy packs, users analyst/dpo/admin mapped to the roles of the
 * same name, and the audit trail in `<auditDir>/demo-audit.jsonl` with failMode closed.
 */
export function demoConfig(upstreamUrl: string, auditDir: string): Record<string, unknown> {
  return {
    admin: { listen: '127.0.0.1:8080' },
    policies: { packs: ['default', 'gdpr', 'hipaa', 'sox', 'iso27001'] },
    roles: DEMO_USERS.map((u) => ({ match: { user: u.name }, role: u.name })),
    audit: {
      failMode: 'closed',
      sinks: [{ type: 'file', path: path.join(auditDir, 'demo-audit.jsonl'), fsyncMs: 20 }],
    },
    listeners: [
      {
        name: 'demo-pg',
        protocol: 'postgres',
        listen: '127.0.0.1:6432',
        users: DEMO_USERS.map((u) => ({ name: u.name, password: u.password })),
        upstream: { url: upstreamUrl, maxConnections: 1 },
        pool: 'transaction',
      },
    ],
  };
}
