/**
 * `dgf scan` for Redis: a SCAN sample of keys, grouped into key patterns (numeric and uuid parts become `*`),
 * with sampled values per type (hash fields by name).
 */
import { Redis } from 'ioredis';
import type { ListenerScanner } from '../../src/listener.js';
import { ScanAccumulator } from '../../src/governance/scan-accumulator.js';

const VARIABLE_PART = /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,})$/i;

/** 'user:42:email' -> 'user:*:email' */
export function keyPattern(key: string): string {
  return key
    .split(':')
    .map((p) => (VARIABLE_PART.test(p) ? '*' : p))
    .join(':');
}

export const scan: ListenerScanner = async (config, policy, sample) => {
  const redis = new Redis(config.upstream.url!, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const acc = new ScanAccumulator(policy);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0' && keys.length < sample * 20);
    const perPattern = new Map<string, number>();
    for (const key of keys) {
      const pattern = keyPattern(key);
      const seen = perPattern.get(pattern) ?? 0;
      if (seen >= sample) continue;
      perPattern.set(pattern, seen + 1);
      const type = await redis.type(key);
      if (type === 'string') acc.value('keys', pattern, await redis.get(key));
      else if (type === 'hash') for (const [f, v] of Object.entries(await redis.hgetall(key))) acc.value(pattern, f, v);
      else if (type === 'list') for (const v of await redis.lrange(key, 0, 9)) acc.value('keys', pattern, v);
      else if (type === 'set') for (const v of await redis.srandmember(key, '10')) acc.value('keys', pattern, v);
      else if (type === 'zset') for (const v of await redis.zrange(key, '0', '9')) acc.value('keys', pattern, v);
      else acc.field('keys', pattern);
    }
    return acc.rows();
  } finally {
    redis.disconnect();
  }
};
