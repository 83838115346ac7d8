/**
 * Audit records of commands from many clients (turn-records.ts): clients of one subject whose commands complete in
 * the same turn share one record with one entry per command; every command is accounted for once, no record mixes
 * identities or roles, masking and its counts hold per entry, and the metrics count commands, not records.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { readAudit, type TestDgf } from '../../helpers/dgf.js';
import { client, direct, startRedisDgf } from './helpers.js';

const NS = `dgf-turn-${process.pid}`;
const CLIENTS = 24;
const WAVES = 20;

/** The commands a record stands for: itself, or its entries. */
function commandsOf(r: Record<string, unknown>): Array<Record<string, unknown>> {
  const entries = r['entries'] as Array<Record<string, unknown>> | undefined;
  return entries ?? [r];
}

describe('audit records grouped by subject across clients', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;
  const clients: Redis[] = [];

  before(async () => {
    ({ dgf, port } = await startRedisDgf());
    up = direct();
    for (let i = 0; i < CLIENTS; i++) {
      await up.set(`${NS}:svc:${i}`, `value-${i}`);
      await up.set(`${NS}:user:${i}:email`, `person${i}@example.com`);
    }
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    const keys = await up.keys(`${NS}:*`);
    if (keys.length > 0) await up.del(...keys);
    up.disconnect();
    await dgf.stop();
  });

  test('every command is one entry or record; a record names one subject; masking and metrics per command', async () => {
    // Half the clients as service (sees clear values), half as analyst (emails masked): two subjects at once.
    for (let i = 0; i < CLIENTS; i++) clients.push(client(port, i % 2 === 0 ? 'service' : 'analyst'));
    await Promise.all(clients.map((c) => c.ping()));
    for (let w = 0; w < WAVES; w++) {
      const replies = await Promise.all(
        clients.map((c, i) => (i % 2 === 0 ? c.get(`${NS}:svc:${i}`) : c.get(`${NS}:user:${i}:email`))),
      );
      replies.forEach((v, i) => {
        if (i % 2 === 0) assert.equal(v, `value-${i}`);
        else assert.equal(v, `p***@example.com`, `analyst client ${i} got ${v}`);
      });
    }
    // failMode closed (the test default): each reply came after its record was kept, so the file holds them all.
    const records = (await readAudit(dgf.auditFile)).filter((r) => commandsOf(r).some((c) => String(c['object'] ?? '').startsWith(NS)));
    const perUser = new Map<string, number>();
    let grouped = 0;
    for (const r of records) {
      const user = (r['identity'] as { user: string }).user;
      const commands = commandsOf(r);
      if (commands.length > 1) {
        assert.equal(r['operation'], 'pipeline');
        assert.match(String(r['statement']), /^PIPELINE \d+( FROM \d+ CLIENTS)?: GET$/);
        if (/FROM/.test(String(r['statement']))) grouped++;
      }
      for (const c of commands) {
        assert.equal(c['operation'], 'get');
        const object = String(c['object']);
        // No record mixes subjects: service's keys only under service, analyst's only under analyst.
        if (user === 'service') {
          assert.equal(r['role'], 'service');
          assert.ok(object.startsWith(`${NS}:svc:`), object);
          assert.equal((c['labels'] as string[] | undefined)?.length ?? 0, 0);
        } else {
          assert.equal(user, 'analyst');
          assert.equal(r['role'], 'analyst');
          assert.ok(object.startsWith(`${NS}:user:`), object);
          assert.deepEqual(c['labels'], ['pii.email']);
          assert.deepEqual(c['masked'], { 'pii.email': 1 });
        }
        assert.equal(c['rows'], 1);
        perUser.set(user, (perUser.get(user) ?? 0) + 1);
      }
      if (user === 'analyst') assert.equal((r['masked'] as Record<string, number>)['pii.email'], commands.length);
    }
    assert.equal(perUser.get('service'), (CLIENTS / 2) * WAVES);
    assert.equal(perUser.get('analyst'), (CLIENTS / 2) * WAVES);
    assert.ok(grouped > 0, 'some records hold the commands of several clients');
    assert.ok(records.length < CLIENTS * WAVES, `${records.length} records for ${CLIENTS * WAVES} commands`);

    // The metrics count commands (the pings and the seeding aside, every GET of this listener is one of ours).
    const text = await (await fetch(`${dgf.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('dgf_queries_total{') && l.includes('listener="cache"') && l.includes('operation="get"') && l.includes('outcome="ok"'));
    assert.ok(line, 'dgf_queries_total for get');
    assert.equal(Number(line.split(' ').pop()), CLIENTS * WAVES);
    assert.ok(!text.includes('operation="pipeline"'), 'a batch record is not counted as a query of its own');
  });
});

describe('audit records that cannot be kept (failMode closed)', () => {
  test('write-ahead: every client gets the error instead of running its command, nothing reaches Redis, and dgf keeps serving', async () => {
    // /dev/full accepts the open and fails every write with ENOSPC: no record can be kept.
    const { dgf, port } = await startRedisDgf({}, { audit: { failMode: 'closed', sinks: [{ type: 'file', path: '/dev/full' }] } });
    const up = direct();
    const clients: Redis[] = [];
    try {
      await up.set(`${NS}:withheld`, 'secret-value');
      // No ready check: ioredis's INFO would be withheld too, and the client would never call itself ready.
      for (let i = 0; i < 8; i++) clients.push(client(port, 'service', { enableReadyCheck: false }));
      const replies = await Promise.all(clients.map((c) => c.get(`${NS}:withheld`).then((v) => v, (e: Error) => e)));
      for (const r of replies) {
        assert.ok(r instanceof Error, `a command ran without its record: ${String(r)}`);
        assert.match(r.message, /^ERR dgf: audit record could not be kept, the command was not run/);
      }
      // Writes are refused before they reach Redis: the key does not exist there.
      const writes = await Promise.all(clients.map((c, i) => c.set(`${NS}:unrecorded:${i}`, 'v').then((v) => v, (e: Error) => e)));
      for (const w of writes) assert.ok(w instanceof Error, `a write was acknowledged without its record: ${String(w)}`);
      assert.equal(await up.exists(...clients.map((_c, i) => `${NS}:unrecorded:${i}`)), 0, 'nothing reached Redis');
      // The connection stays open: the next command gets the same clear error, not a hang or a close.
      await assert.rejects(clients[0]!.incr(`${NS}:unrecorded:counter`), /^ReplyError: ERR dgf: audit record could not be kept/);
      assert.equal(clients[0]!.status, 'ready');
      assert.equal(await up.exists(`${NS}:unrecorded:counter`), 0);
    } finally {
      for (const c of clients) c.disconnect();
      await up.del(`${NS}:withheld`);
      up.disconnect();
      await dgf.stop();
    }
  });
});
