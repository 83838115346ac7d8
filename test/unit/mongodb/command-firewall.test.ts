/**
 * Issue #18 item 5, MongoDB command analysis: which delete filters dgf can prove selective (anything else is
 * `deletemany-all`), renameCollection with dropTarget as a drop, and the collections stages name as objects.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaxKey, MinKey, ObjectId } from 'bson';
import { describeCommand, provablySelective } from '../../../protocols/mongodb/command.js';

describe('provablySelective', () => {
  test('equality to a concrete value, $eq, $in of concrete values, through $and or every $or branch', () => {
    for (const f of [
      { k: 1 },
      { _id: new ObjectId() },
      { k: { $eq: 'a' } },
      { k: { $in: [1, 2] } },
      { k: { $in: [] } },
      { 'a.b': 'x', other: { $ne: 1 } },
      { $and: [{ k: { $ne: 1 } }, { j: 2 }] },
      { $or: [{ k: 1 }, { j: { $in: ['a'] } }] },
      { doc: { a: 1 } },
      { when: new Date(0) },
    ]) assert.equal(provablySelective(f), true, JSON.stringify(f));
  });

  test('tautologies and filters that prove nothing', () => {
    for (const f of [
      {},
      undefined,
      null,
      { _id: { $exists: true } },
      { $or: [{}, { k: 1 }] },
      { $or: [] },
      { $and: [{}] },
      { $expr: true },
      { k: { $ne: 'x' } },
      { k: { $nin: ['x'] } },
      { k: { $not: { $eq: 1 } } },
      { $nor: [{ k: 1 }] },
      { $where: 'true' },
      { _id: { $gte: new MinKey() } },
      { _id: { $lt: new MaxKey() } },
      { k: new MinKey() },
      { k: { $gt: 0, $lt: 10 } },
      { missing: null },
      { missing: { $in: [null] } },
      { name: /.*/ },
      { name: { $regex: '' } },
      { k: { $in: [/x/] } },
      { $comment: 'x' },
      { $jsonSchema: {} },
      { $alwaysTrue: 1 },
      { k: { $type: 'int' } },
    ]) assert.equal(provablySelective(f), false, JSON.stringify(f));
  });
});

describe('describeCommand: indirection', () => {
  test('delete: any statement with limit 0 (or none) and an unproven filter is deletemany-all', () => {
    assert.equal(describeCommand({ delete: 'c', deletes: [{ q: { k: 1 }, limit: 0 }] }, 'app').operation, 'delete');
    assert.equal(describeCommand({ delete: 'c', deletes: [{ q: {}, limit: 1 }] }, 'app').operation, 'delete');
    assert.equal(describeCommand({ delete: 'c', deletes: [{ q: { k: 1 }, limit: 0 }, { q: { k: { $ne: 1 } }, limit: 0 }] }, 'app').operation, 'deletemany-all');
    assert.equal(describeCommand({ delete: 'c', deletes: [{ q: { k: { $exists: true } } }] }, 'app').operation, 'deletemany-all');
    const many = Array.from({ length: 1500 }, (_, i) => ({ q: { k: i }, limit: 0 }));
    many.push({ q: { k: { $gte: 0 } } as never, limit: 0 });
    assert.equal(describeCommand({ delete: 'c', deletes: many }, 'app').operation, 'deletemany-all', 'the 1501st statement counts');
    assert.equal(describeCommand({ delete: 'c' }, 'app', new Map([['deletes', [{ q: { $expr: true }, limit: 0 }]]])).operation, 'deletemany-all');
  });

  test('the bulkWrite command: a multi delete with an unproven filter; its namespaces are objects', () => {
    const info = describeCommand({ bulkWrite: 1, ops: [{ delete: 0, filter: { k: { $ne: 0 } }, multi: true }], nsInfo: [{ ns: 'app.c' }] }, 'admin');
    assert.equal(info.operation, 'deletemany-all');
    assert.ok(info.objects.includes('app.c'));
    assert.equal(describeCommand({ bulkWrite: 1, ops: [{ delete: 0, filter: {}, multi: false }], nsInfo: [{ ns: 'app.c' }] }, 'admin').operation, 'bulkwrite');
  });

  test('renameCollection with dropTarget is tagged drop; both namespaces are objects', () => {
    const r = describeCommand({ renameCollection: 'app.a', to: 'app.b', dropTarget: true }, 'admin');
    assert.deepEqual(r.tags, ['drop']);
    assert.ok(r.objects.includes('app.a') && r.objects.includes('app.b'));
    assert.deepEqual(describeCommand({ renameCollection: 'app.a', to: 'app.b' }, 'admin').tags, []);
  });

  test('applyOps is dynamic code over the namespaces it names', () => {
    const info = describeCommand({ applyOps: [{ op: 'd', ns: 'app.c', o: { k: 1 } }] }, 'admin');
    assert.ok(info.tags.includes('dynamic-code') && info.tags.includes('may:drop') && info.tags.includes('may:deletemany-all'));
    assert.ok(info.objects.includes('app.c'));
  });

  test('collections named by stages, at any depth, are objects', () => {
    const info = describeCommand(
      {
        aggregate: 'orders',
        pipeline: [
          { $lookup: { from: 'l1', pipeline: [{ $lookup: { from: 'l2', pipeline: [], as: 'y' } }], as: 'x' } },
          { $unionWith: { coll: 'u1', pipeline: [{ $unionWith: 'u2' }] } },
          { $facet: { a: [{ $graphLookup: { from: 'g1', startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'z' } }] } },
          { $merge: { into: { db: 'other', coll: 'm1' } } },
        ],
        cursor: {},
      },
      'app',
    );
    for (const ns of ['app.orders', 'app.l1', 'app.l2', 'app.u1', 'app.u2', 'app.g1', 'other.m1']) assert.ok(info.objects.includes(ns), `${ns} in ${info.objects}`);
    assert.equal(info.objects[0], 'app.orders');
    // a stage the trace cannot follow does not hide the ones after it
    const after = describeCommand({ aggregate: 'orders', pipeline: [{ $bogus: 1 }, { $lookup: { from: 'hidden', pipeline: [], as: 'x' } }], cursor: {} }, 'app');
    assert.ok(after.objects.includes('app.hidden'));
    assert.ok(describeCommand({ create: 'v', viewOn: 'secret', pipeline: [] }, 'app').objects.includes('app.secret'));
  });
});
