import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePipeline, findJsOperators, resolveSources } from '../../../protocols/mongodb/pipeline.js';
import { describeCommand } from '../../../protocols/mongodb/command.js';

const src = (pipeline: unknown[], path: string): string[] => resolveSources(analyzePipeline(pipeline), path).sort();

describe('pipeline lineage', () => {
  test('$project renames, nested specs and inclusion', () => {
    const p = [{ $project: { mail: '$email', 'c.phone': '$contact.phone', inner: { e: '$email' }, name: 1, _id: 0 } }];
    assert.deepEqual(src(p, 'mail'), ['email']);
    assert.deepEqual(src(p, 'c.phone'), ['contact.phone']);
    assert.deepEqual(src(p, 'inner.e'), ['email']);
    assert.deepEqual(src(p, 'name'), ['name']);
  });

  test('computed fields carry every input', () => {
    const p = [{ $addFields: { label: { $concat: ['$name', ' <', '$email', '>'] }, one: 1 } }];
    assert.deepEqual(src(p, 'label'), ['email', 'name']);
    assert.deepEqual(src(p, 'one'), []);
    assert.deepEqual(src(p, 'email'), ['email']);
  });

  test('renames compose across stages', () => {
    const p = [{ $set: { a: '$email' } }, { $project: { b: '$a' } }, { $replaceRoot: { newRoot: { x: '$b' } } }];
    assert.deepEqual(src(p, 'x'), ['email']);
  });

  test('$replaceRoot to a subdocument prefixes paths', () => {
    assert.deepEqual(src([{ $replaceRoot: { newRoot: '$contact' } }], 'email'), ['contact.email']);
    assert.deepEqual(src([{ $replaceWith: '$contact' }], 'phone'), ['contact.phone']);
  });

  test('$group accumulators and _id follow their inputs, $$ROOT keeps names', () => {
    const p = [{ $group: { _id: '$email', n: { $sum: 1 }, phones: { $push: '$contact.phone' }, docs: { $push: '$$ROOT' } } }];
    assert.deepEqual(src(p, '_id'), ['email']);
    assert.deepEqual(src(p, 'phones'), ['contact.phone']);
    assert.deepEqual(src(p, 'docs.ssn'), ['ssn']);
    assert.deepEqual(src(p, 'n'), []);
  });

  test('$lookup as, $facet and change streams', () => {
    assert.deepEqual(src([{ $lookup: { from: 'o', localField: 'a', foreignField: 'b', as: 'orders' } }], 'orders.card_number'), ['card_number']);
    assert.deepEqual(src([{ $facet: { f: [{ $project: { m: '$email' } }] } }], 'f.m'), ['email']);
    assert.deepEqual(src([{ $changeStream: {} }], 'fullDocument.email'), ['email']);
    assert.deepEqual(src([{ $changeStream: {} }], 'updateDescription.updatedFields.ssn'), ['ssn']);
  });

  test('unknown stages, write stages and server-side JavaScript are reported', () => {
    assert.match(analyzePipeline([{ $frobnicate: {} }]).trace.unknown?.why ?? '', /\$frobnicate, which dgf does not model/);
    const a = analyzePipeline([{ $lookup: { from: 'x', as: 'y', pipeline: [] } }, { $out: 'copy' }]);
    assert.equal(a.trace.unknown, null);
    assert.equal(a.writeStage, '$out');
    assert.equal(a.writeTarget, 'copy');
    assert.deepEqual([...findJsOperators({ $expr: { $function: { body: 'x' } }, a: [{ $where: 'y' }] })].sort(), ['$function', '$where']);
  });
});

describe('describeCommand', () => {
  test('find: operation, object, fields and a statement without values', () => {
    const d = describeCommand({ find: 'users', filter: { email: 'alice@example.com', age: { $gt: 30 } } }, 'app');
    assert.equal(d.operation, 'find');
    assert.equal(d.kind, 'read');
    assert.deepEqual(d.objects, ['app.users']);
    assert.deepEqual(d.fields.sort(), ['age', 'email']);
    assert.equal(d.statement, 'find app.users {email: ?, age: {$gt: ?}}');
    assert.doesNotMatch(d.statement, /alice/);
  });

  test('delete with an empty filter and limit 0 is deletemany-all; with a filter it is delete', () => {
    assert.equal(describeCommand({ delete: 'users', deletes: [{ q: {}, limit: 0 }] }, 'app').operation, 'deletemany-all');
    assert.equal(describeCommand({ delete: 'users' }, 'app', new Map([['deletes', [{ q: {}, limit: 0 }]]])).operation, 'deletemany-all');
    assert.equal(describeCommand({ delete: 'users', deletes: [{ q: { a: 1 }, limit: 0 }] }, 'app').operation, 'delete');
    assert.equal(describeCommand({ delete: 'users', deletes: [{ q: {}, limit: 1 }] }, 'app').operation, 'delete');
  });

  test('drop, dropDatabase, mapReduce and JavaScript operators', () => {
    assert.equal(describeCommand({ drop: 'users' }, 'app').operation, 'drop');
    assert.equal(describeCommand({ drop: 'users' }, 'app').kind, 'ddl');
    assert.deepEqual(describeCommand({ dropDatabase: 1 }, 'app').objects, ['app']);
    assert.equal(describeCommand({ dropDatabase: 1 }, 'app').operation, 'dropdatabase');
    assert.equal(describeCommand({ mapReduce: 'users', map: 'f', reduce: 'g', out: { inline: 1 } }, 'app').operation, 'mapreduce');
    assert.deepEqual(describeCommand({ find: 'users', filter: { $where: 'this.a > 1' } }, 'app').jsOperators, ['$where']);
    assert.deepEqual(describeCommand({ aggregate: 'users', pipeline: [{ $group: { _id: null, x: { $accumulator: {} } } }] }, 'app').jsOperators, ['$accumulator']);
  });

  test('aggregate with $merge is a write to the target too; pipeline refs are names, values are not', () => {
    const d = describeCommand({ aggregate: 'users', pipeline: [{ $match: { email: 'x@y.z' } }, { $project: { m: '$email' } }, { $merge: { into: 'copy' } }] }, 'app');
    assert.equal(d.kind, 'write');
    assert.deepEqual(d.objects, ['app.users', 'app.copy']);
    assert.equal(d.statement, 'aggregate app.users [{$match: {email: ?}}, {$project: {m: $email}}, {$merge: {into: ?}}]');
  });

  test('insert counts documents without reading them', () => {
    assert.equal(describeCommand({ insert: 'users' }, 'app', new Map(), 3).statement, 'insert app.users [3 documents]');
  });
});
