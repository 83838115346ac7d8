/** What the write-ahead tests leave in the shared backends: their PostgreSQL table and their Redis keys. */
import { Redis } from 'ioredis';
import { direct } from '../../fixtures/postgres/setup.js';
import { UPSTREAM_PORT as REDIS_PORT } from '../redis/helpers.js';

export async function dropTableAndKeys(table: string, ns: string): Promise<void> {
  const d = await direct();
  await d.query(`drop table if exists ${table}`);
  await d.end();
  const r = new Redis({ port: REDIS_PORT, host: '127.0.0.1' });
  const keys = await r.keys(`${ns}:*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
}
