import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompiledPolicy, Identity } from '../../../src/policy/types.js';
import { Batch } from '../../../protocols/redis/slot.js';
import { recordBatchAtTurnEnd, type BatchRecorder } from '../../../protocols/redis/turn-records.js';
import { sameIdentity } from '../../../protocols/redis/subject-groups.js';

const POLICY = {} as CompiledPolicy;

/** A recorder that logs the groups it is asked to record. */
class FakeRecorder implements BatchRecorder {
  static groups: Array<{ lead: string; members: string[]; batches: Batch[] }> = [];
  static appended: string[] = [];
  constructor(
    readonly name: string,
    readonly recordScope: object,
  ) {}
  recordBatches(owners: readonly BatchRecorder[], batches: readonly Batch[]): void {
    assert.equal(owners[0], this);
    FakeRecorder.groups.push({ lead: this.name, members: owners.map((o) => (o as FakeRecorder).name), batches: [...batches] });
  }
  recordsAppended(): void {
    FakeRecorder.appended.push(this.name);
  }
  recordKept(): void {}
}

function batch(identity: Identity, role: string): Batch {
  const b = new Batch(POLICY, 0);
  b.identity = identity;
  b.role = role;
  return b;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('turn records', () => {
  it('groups a turn by listener, role and identity, in order of first appearance, once per turn', async () => {
    FakeRecorder.groups = [];
    FakeRecorder.appended = [];
    const cache = {};
    const other = {};
    const alice = { user: 'alice', address: '127.0.0.1', database: '0' };
    const a = new FakeRecorder('a', cache);
    const b = new FakeRecorder('b', cache);
    const c = new FakeRecorder('c', cache);
    const d = new FakeRecorder('d', other);
    const e = new FakeRecorder('e', cache);
    const batches = [
      batch(alice, 'analyst'),
      batch({ ...alice }, 'analyst'), // an equal identity in another object: the same subject
      batch({ ...alice, application: 'worker' }, 'analyst'), // another application: another subject
      batch({ ...alice }, 'analyst'), // another listener
      batch({ ...alice }, 'admin'), // another role
    ];
    [a, b, c, d, e].forEach((r, i) => recordBatchAtTurnEnd(r, batches[i]!));
    // A second batch of the first client, later in the same turn.
    const again = batch(alice, 'analyst');
    recordBatchAtTurnEnd(a, again);
    assert.equal(FakeRecorder.groups.length, 0, 'nothing is recorded before the end of the turn');
    await turn();
    assert.deepEqual(
      FakeRecorder.groups.map((g) => [g.lead, g.members]),
      [
        ['a', ['a', 'b', 'a']],
        ['c', ['c']],
        ['d', ['d']],
        ['e', ['e']],
      ],
    );
    assert.deepEqual(FakeRecorder.groups[0]!.batches, [batches[0], batches[1], again]);
    // Told once per listener, after every group is recorded.
    assert.deepEqual(FakeRecorder.appended, ['a', 'd']);

    // The next turn starts empty.
    FakeRecorder.groups = [];
    recordBatchAtTurnEnd(c, batch(alice, 'analyst'));
    await turn();
    assert.deepEqual(FakeRecorder.groups.map((g) => [g.lead, g.members]), [['c', ['c']]]);
  });

  it('sameIdentity compares every identity field', () => {
    const base = { user: 'u', application: 'app', address: '10.0.0.1', database: '0' };
    assert.ok(sameIdentity(base, { ...base }));
    for (const k of ['user', 'application', 'address', 'database'] as const) assert.ok(!sameIdentity(base, { ...base, [k]: 'x' }), k);
    assert.ok(!sameIdentity({ user: 'u' }, { user: 'u', application: 'app' }));
  });
});
