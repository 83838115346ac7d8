/** The quick-start demo: an embedded, seeded PostgreSQL (PGlite) and the config that puts dgf in front of it. */
export { startDemoUpstream, type DemoUpstream, type DemoUpstreamOptions } from './upstream.js';
export { demoConfig, DEMO_USERS } from './config.js';
export { demoSeedSql, DEMO_ROWS } from './seed.js';
