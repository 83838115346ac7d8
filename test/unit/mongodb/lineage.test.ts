/**
 * The aggregation tracer (protocols/mongodb/lineage): the operator and stage tables cover the MongoDB 7.0 / 8.x
 * documentation, each rule traces what it should, the verdicts refuse what cannot be traced, the planner gives plain
 * copies their own mask and derived values the derived mask, views are followed, and the trace cache keys on what
 * decides lineage only.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Long, serialize, deserialize } from 'bson';
import { YamlSource } from '../../../src/config/yaml-source.js';
import { DEFAULT_PACKS, PolicyStore, REDACTED, compilePolicySources, defaultPacksDir, type CompiledPolicy } from '../../../src/policy/index.js';
import { ACCUMULATORS, EXPRESSION_OPERATORS, STAGES, WINDOW_OPERATORS } from '../../../protocols/mongodb/lineage/operators.js';
import { traceCommand, type CommandTrace, type TraceOptions, type ViewDefinition } from '../../../protocols/mongodb/lineage/trace.js';
import { decide } from '../../../protocols/mongodb/lineage/verdict.js';
import { shapeKey, TraceCache } from '../../../protocols/mongodb/lineage/cache.js';
import { ShapePlanner } from '../../../protocols/mongodb/masking.js';
import { maskCursorReply } from '../../../protocols/mongodb/codec/reply.js';
import { describeCommand } from '../../../protocols/mongodb/command.js';

const policy: CompiledPolicy = (await PolicyStore.load({ hashKey: 'mongo-lineage-test' })).current();
const packSources = await Promise.all(DEFAULT_PACKS.map((p) => YamlSource.read(join(defaultPacksDir(), `${p}.yaml`))));
const maskPolicy: CompiledPolicy = compilePolicySources([...packSources, YamlSource.parse('onUnknownLineage: { default: deny, analyst: mask }\n', 'policies/u0.yaml')], {
  hashKey: 'mongo-lineage-test',
  userFiles: new Set(['policies/u0.yaml']),
});

const agg = (pipeline: unknown[], options: TraceOptions = {}): CommandTrace => traceCommand({ aggregate: 'people', pipeline }, 'app', options);
/** Output path -> 'plain:<source>' | 'derived:<sources>' | 'unknown' | 'none' (the model says it cannot exist) | 'const'. */
function at(t: CommandTrace, path: string): string {
  const l = t.result?.lineageOf(path);
  if (l === undefined || l === null) return 'none';
  if (l.unknown !== null) return 'unknown';
  if (l.plain !== null) return `plain:${l.plain}`;
  if (l.sources.length === 0) return 'const';
  return `derived:${[...l.sources].sort().join(',')}`;
}

// The MongoDB 7.0 and 8.x documentation: Aggregation Stages, Expression Operators, Accumulators, Window Operators.
const DOCUMENTED_STAGES = [
  '$addFields', '$bucket', '$bucketAuto', '$changeStream', '$changeStreamSplitLargeEvent', '$collStats', '$count', '$currentOp',
  '$densify', '$documents', '$facet', '$fill', '$geoNear', '$graphLookup', '$group', '$indexStats', '$limit', '$listLocalSessions',
  '$listSampledQueries', '$listSearchIndexes', '$listSessions', '$lookup', '$match', '$merge', '$out', '$planCacheStats',
  '$project', '$querySettings', '$queryStats', '$redact', '$replaceRoot', '$replaceWith', '$sample', '$search', '$searchMeta',
  '$set', '$setWindowFields', '$shardedDataDistribution', '$skip', '$sort', '$sortByCount', '$unionWith', '$unset', '$unwind',
  '$vectorSearch', '$rankFusion', '$scoreFusion', '$score', '$listClusterCatalog',
];
const DOCUMENTED_EXPRESSIONS = [
  '$abs', '$acos', '$acosh', '$add', '$allElementsTrue', '$and', '$anyElementTrue', '$arrayElemAt', '$arrayToObject', '$asin',
  '$asinh', '$atan', '$atan2', '$atanh', '$avg', '$binarySize', '$bitAnd', '$bitNot', '$bitOr', '$bitXor', '$bsonSize', '$ceil',
  '$cmp', '$concat', '$concatArrays', '$cond', '$convert', '$cos', '$cosh', '$dateAdd', '$dateDiff', '$dateFromParts',
  '$dateFromString', '$dateSubtract', '$dateToParts', '$dateToString', '$dateTrunc', '$dayOfMonth', '$dayOfWeek', '$dayOfYear',
  '$degreesToRadians', '$divide', '$eq', '$exp', '$filter', '$first', '$firstN', '$floor', '$function', '$getField', '$gt',
  '$gte', '$hour', '$ifNull', '$in', '$indexOfArray', '$indexOfBytes', '$indexOfCP', '$isArray', '$isNumber', '$isoDayOfWeek',
  '$isoWeek', '$isoWeekYear', '$last', '$lastN', '$let', '$literal', '$ln', '$log', '$log10', '$lt', '$lte', '$ltrim', '$map',
  '$max', '$maxN', '$median', '$mergeObjects', '$meta', '$millisecond', '$min', '$minN', '$minute', '$mod', '$month',
  '$multiply', '$ne', '$not', '$objectToArray', '$or', '$percentile', '$pow', '$radiansToDegrees', '$rand', '$range', '$reduce',
  '$regexFind', '$regexFindAll', '$regexMatch', '$replaceAll', '$replaceOne', '$reverseArray', '$round', '$rtrim', '$second',
  '$setDifference', '$setEquals', '$setField', '$setIntersection', '$setIsSubset', '$setUnion', '$sigmoid', '$sin', '$sinh',
  '$size', '$slice', '$sortArray', '$split', '$sqrt', '$stdDevPop', '$stdDevSamp', '$strcasecmp', '$strLenBytes', '$strLenCP',
  '$substr', '$substrBytes', '$substrCP', '$subtract', '$sum', '$switch', '$tan', '$tanh', '$toBool', '$toDate', '$toDecimal',
  '$toDouble', '$toHashedIndexKey', '$toInt', '$toLong', '$toLower', '$toObjectId', '$toString', '$toUpper', '$toUUID', '$trim',
  '$trunc', '$tsIncrement', '$tsSecond', '$type', '$unsetField', '$week', '$year', '$zip', '$accumulator',
];
const DOCUMENTED_ACCUMULATORS = [
  '$accumulator', '$addToSet', '$avg', '$bottom', '$bottomN', '$count', '$first', '$firstN', '$last', '$lastN', '$max', '$maxN',
  '$median', '$mergeObjects', '$min', '$minN', '$percentile', '$push', '$stdDevPop', '$stdDevSamp', '$sum', '$top', '$topN',
];
const DOCUMENTED_WINDOW = [
  '$covariancePop', '$covarianceSamp', '$denseRank', '$derivative', '$documentNumber', '$expMovingAvg', '$integral', '$linearFill',
  '$locf', '$rank', '$shift',
];

describe('the operator and stage tables', () => {
  test('every documented stage, expression operator, accumulator and window operator has a rule', () => {
    for (const s of DOCUMENTED_STAGES) assert.ok(STAGES.has(s), `stage ${s}`);
    for (const e of DOCUMENTED_EXPRESSIONS) assert.ok(EXPRESSION_OPERATORS.has(e), `expression ${e}`);
    for (const a of DOCUMENTED_ACCUMULATORS) assert.ok(ACCUMULATORS.has(a), `accumulator ${a}`);
    for (const w of DOCUMENTED_WINDOW) assert.ok(WINDOW_OPERATORS.has(w) || ACCUMULATORS.has(w), `window operator ${w}`);
  });

  test('an operator, stage or accumulator not in the tables is unknown lineage', () => {
    assert.equal(at(agg([{ $project: { x: { $fooBar: '$email' } } }]), 'x'), 'unknown');
    assert.equal(at(agg([{ $frobnicate: {} }]), 'email'), 'unknown');
    assert.equal(at(agg([{ $group: { _id: null, x: { $frob: '$email' } } }]), 'x'), 'unknown');
    assert.match(agg([{ $project: { x: { $fooBar: '$email' } } }]).unknown?.why ?? '', /\$fooBar, which dgf does not model/);
  });
});

describe('tracing', () => {
  test('plain copies: renames, $getField, $$ROOT/$$CURRENT, $let, choices of one field', () => {
    assert.equal(at(agg([{ $project: { m: '$email' } }]), 'm'), 'plain:email');
    assert.equal(at(agg([{ $project: { m: { $getField: 'ssn' } } }]), 'm'), 'plain:ssn');
    assert.equal(at(agg([{ $project: { m: { $getField: { field: { $literal: 'ssn' }, input: '$$ROOT' } } } }]), 'm'), 'plain:ssn');
    assert.equal(at(agg([{ $project: { m: { $getField: { $concat: ['s', 'sn'] } } } }]), 'm'), 'plain:ssn');
    assert.equal(at(agg([{ $project: { m: '$$CURRENT.contact.email' } }]), 'm'), 'plain:contact.email');
    assert.equal(at(agg([{ $project: { r: '$$ROOT' } }]), 'r.diagnosis'), 'plain:diagnosis');
    assert.equal(at(agg([{ $project: { m: { $let: { vars: { r: '$$ROOT' }, in: '$$r.ssn' } } } }]), 'm'), 'plain:ssn');
    assert.equal(at(agg([{ $project: { m: { $arrayElemAt: ['$cards', 0] } } }]), 'm'), 'plain:cards');
    assert.equal(at(agg([{ $replaceRoot: { newRoot: '$contact' } }]), 'email'), 'plain:contact.email');
    assert.equal(at(agg([{ $set: { a: '$email' } }, { $project: { b: '$a' } }, { $replaceRoot: { newRoot: { x: '$b' } } }]), 'x'), 'plain:email');
  });

  test('derived values: strings, windows, arithmetic, conversions, statistics', () => {
    for (const e of [
      { $concat: ['$email', ''] },
      { $substrCP: ['$email', 0, 3] },
      { $split: ['$diagnosis', ' '] },
      { $regexFind: { input: '$email', regex: '.' } },
      { $toUpper: '$diagnosis' },
      { $toString: '$ssn' },
      { $convert: { input: '$ssn', to: 'string' } },
      { $strLenCP: '$email' },
      { $indexOfArray: [['a'], { $substrCP: ['$email', 0, 1] }] },
    ]) {
      assert.match(at(agg([{ $project: { x: e } }]), 'x'), /^derived:(email|diagnosis|ssn)$/, JSON.stringify(e));
    }
    assert.equal(at(agg([{ $group: { _id: null, s: { $sum: '$salary' } } }]), 's'), 'derived:salary');
    assert.equal(at(agg([{ $project: { x: { $dateFromString: { dateString: '$dob', onError: '$dob' } } } }]), 'x'), 'derived:dob');
  });

  test('booleans are non-revealing, but conditions and selectors flow', () => {
    assert.equal(at(agg([{ $project: { b: { $eq: ['$ssn', 'x'] }, c: { $in: ['$email', ['a']] }, t: { $type: '$ssn' } } }]), 'b'), 'const');
    assert.equal(at(agg([{ $project: { x: { $cond: [{ $eq: [{ $substrCP: ['$ssn', 0, 1] }, '1'] }, 'a', 'b'] } } }]), 'x'), 'derived:ssn');
    assert.equal(at(agg([{ $project: { x: { $filter: { input: ['0', '1'], cond: { $eq: ['$$this', { $substrCP: ['$ssn', 0, 1] }] } } } } }]), 'x'), 'derived:ssn');
    assert.equal(at(agg([{ $project: { x: { $arrayElemAt: [['a', 'b'], { $toInt: { $substrCP: ['$ssn', 0, 1] } }] } } }]), 'x'), 'derived:ssn');
    assert.equal(at(agg([{ $project: { x: { $switch: { branches: [{ case: { $gt: ['$age', 1] }, then: '$email' }], default: null } } } }]), 'x'), 'derived:age,email');
    assert.equal(at(agg([{ $project: { x: { $cond: [{ $gt: ['$age', 40] }, 'old', 'young'] } } }]), 'x'), 'derived:age');
  });

  test('$objectToArray of documents and computed field names are unknown; literal pairs and round trips are traced', () => {
    assert.equal(at(agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]), 'x.v'), 'unknown');
    assert.equal(at(agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]), 'x.k'), 'const');
    assert.equal(at(agg([{ $project: { x: { $objectToArray: { a: '$email' } } } }]), 'x.v'), 'plain:email');
    assert.equal(at(agg([{ $project: { x: { $arrayToObject: [[['note', '$diagnosis']]] } } }]), 'x.note'), 'plain:diagnosis');
    assert.equal(at(agg([{ $replaceWith: { $arrayToObject: { $objectToArray: '$$ROOT' } } }]), 'ssn'), 'plain:ssn');
    assert.equal(agg([{ $replaceWith: { $arrayToObject: [[{ k: '$ssn', v: 1 }]] } }]).unknown?.why.includes('field names computed from data'), true);
    assert.equal(at(agg([{ $project: { x: { $getField: { field: { $concat: ['$k', ''] }, input: '$$ROOT' } } } }]), 'x'), 'unknown');
    assert.equal(at(agg([{ $replaceWith: { $setField: { field: 'note', input: {}, value: '$diagnosis' } } }]), 'note'), 'plain:diagnosis');
  });

  test('$reduce reaches a fixed point; $map binds its variable', () => {
    assert.equal(at(agg([{ $project: { x: { $reduce: { input: { $split: ['$ssn', '-'] }, initialValue: '', in: { $concat: ['$$value', '$$this'] } } } } }]), 'x'), 'derived:ssn');
    assert.equal(at(agg([{ $project: { x: { $reduce: { input: '$docs', initialValue: {}, in: { $mergeObjects: ['$$value', '$$this'] } } } } }]), 'x.email'), 'plain:docs.email');
    assert.equal(at(agg([{ $project: { x: { $map: { input: '$visits', as: 'v', in: '$$v.diagnosis' } } } }]), 'x'), 'plain:visits.diagnosis');
  });

  test('sub-pipelines: $lookup (let, renames), $unionWith, $facet, $graphLookup', () => {
    const lk = agg([{ $lookup: { from: 'other', let: { d: '$diagnosis' }, pipeline: [{ $project: { v: '$$d', n: '$name', e: { $toUpper: '$email' } } }], as: 'j' } }]);
    assert.equal(at(lk, 'j.v'), 'plain:diagnosis');
    assert.equal(at(lk, 'j.n'), 'plain:name');
    assert.equal(at(lk, 'j.e'), 'derived:email');
    assert.equal(at(lk, 'ssn'), 'plain:ssn');
    assert.equal(at(agg([{ $lookup: { from: 'o', localField: 'a', foreignField: 'b', as: 'orders' } }]), 'orders.card_number'), 'plain:card_number');
    const uw = agg([{ $project: { name: 1 } }, { $unionWith: { coll: 'people', pipeline: [{ $project: { name: '$ssn' } }] } }]);
    assert.equal(at(uw, 'name'), 'derived:name,ssn');
    assert.equal(at(agg([{ $facet: { f: [{ $project: { m: '$email' } }] } }]), 'f.m'), 'plain:email');
    assert.equal(at(agg([{ $graphLookup: { from: 'p', startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'g', depthField: 'd' } }]), 'g.ssn'), 'plain:ssn');
    assert.equal(at(agg([{ $graphLookup: { from: 'p', startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'g', depthField: 'd' } }]), 'g.d'), 'const');
  });

  test('$group, $bucket, $bucketAuto, $sortByCount, $setWindowFields, $densify, $fill, $count', () => {
    const g = agg([{ $group: { _id: '$email', n: { $sum: 1 }, phones: { $push: '$contact.phone' }, docs: { $push: '$$ROOT' }, top: { $topN: { n: 2, sortBy: { k: 1 }, output: '$ssn' } } } }]);
    assert.equal(at(g, '_id'), 'plain:email');
    assert.equal(at(g, 'phones'), 'plain:contact.phone');
    assert.equal(at(g, 'docs.ssn'), 'plain:ssn');
    assert.equal(at(g, 'n'), 'const');
    assert.equal(at(g, 'top'), 'plain:ssn');
    assert.equal(at(g, 'email'), 'none');
    assert.equal(at(agg([{ $bucket: { groupBy: '$ssn', boundaries: ['0', '5'], default: 'x' } }]), '_id'), 'const');
    assert.equal(at(agg([{ $bucketAuto: { groupBy: '$diagnosis', buckets: 2 } }]), '_id.min'), 'plain:diagnosis');
    assert.equal(at(agg([{ $sortByCount: '$diagnosis' }]), '_id'), 'plain:diagnosis');
    const w = agg([{ $setWindowFields: { sortBy: { k: 1 }, output: { prev: { $shift: { output: '$ssn', by: -1 } }, r: { $rank: {} }, f: { $first: { $concat: ['$email', ''] } } } } }]);
    assert.equal(at(w, 'prev'), 'plain:ssn');
    assert.equal(at(w, 'r'), 'const');
    assert.equal(at(w, 'f'), 'derived:email');
    assert.equal(at(agg([{ $densify: { field: 'dob', range: { step: 1, unit: 'day', bounds: 'full' } } }]), 'dob'), 'derived:dob');
    assert.equal(at(agg([{ $fill: { output: { note: { value: '$diagnosis' } } } }]), 'note'), 'derived:diagnosis,note');
    assert.equal(at(agg([{ $fill: { sortBy: { k: 1 }, output: { note: { method: 'locf' } } } }]), 'note'), 'plain:note');
    assert.equal(at(agg([{ $count: 'n' }]), 'n'), 'const');
  });

  test('untraceable stages and variables, system.profile, $meta', () => {
    assert.equal(at(agg([{ $currentOp: {} }]), 'command'), 'unknown');
    assert.equal(at(agg([{ $planCacheStats: {} }]), 'x'), 'unknown');
    assert.equal(at(agg([{ $project: { m: '$$SEARCH_META' } }]), 'm'), 'unknown');
    assert.equal(at(agg([{ $project: { m: { $meta: 'indexKey' } }, }]), 'm'), 'unknown');
    assert.equal(at(agg([{ $project: { m: { $meta: 'textScore' } } }]), 'm'), 'const');
    assert.notEqual(traceCommand({ find: 'system.profile', filter: {} }, 'app').unknown, null);
    assert.equal(at(agg([{ $collStats: { count: {} } }]), 'count'), 'const');
  });

  test('find projections: expressions, $slice, $elemMatch, positional, exclusion', () => {
    const f = (projection: unknown): CommandTrace => traceCommand({ find: 'people', filter: {}, projection }, 'app');
    assert.equal(at(f({ m: '$email', x: { $toUpper: '$name' } }), 'm'), 'plain:email');
    assert.equal(at(f({ m: '$email', x: { $toUpper: '$name' } }), 'x'), 'derived:name');
    assert.equal(at(f({ m: '$email' }), 'ssn'), 'none');
    assert.equal(at(f({ tags: { $slice: 1 } }), 'ssn'), 'plain:ssn');
    assert.equal(at(f({ visits: { $elemMatch: { room: 3 } }, name: 1 }), 'visits.diagnosis'), 'plain:visits.diagnosis');
    assert.equal(at(f({ 'visits.$': 1 }), 'visits.diagnosis'), 'plain:visits.diagnosis');
    assert.equal(at(f({ ssn: 0 }), 'email'), 'plain:email');
    assert.equal(traceCommand({ find: 'people', filter: {} }, 'app').result?.output.k, 'ref');
    assert.notEqual(traceCommand({ find: 'people', filter: {}, returnKey: true }, 'app').unknown, null);
  });

  test('$toString and $convert serialize documents from MongoDB 8.3: a subdocument then is untraceable', () => {
    assert.equal(at(agg([{ $project: { x: { $toString: '$contact' } } }]), 'x'), 'derived:contact');
    assert.equal(at(agg([{ $project: { x: { $toString: '$contact' } } }], { objectToString: true }), 'x'), 'unknown');
    assert.equal(at(agg([{ $project: { x: { $bsonSize: '$$ROOT' } } }]), 'x'), 'unknown');
  });

  test('change streams: the documents of the events keep their paths', () => {
    const t = agg([{ $changeStream: {} }]);
    assert.equal(at(t, 'fullDocument.email'), 'plain:email');
    assert.equal(at(t, 'updateDescription.updatedFields.ssn'), 'plain:ssn');
    assert.equal(at(t, 'operationType'), 'const');
  });

  test('writes: update pipelines and $rename are written values; JavaScript and $out/$merge are recorded', () => {
    const u = traceCommand({ update: 'people', updates: [{ q: {}, u: [{ $set: { remark: '$diagnosis', email: { $toLower: '$email' } } }] }] }, 'app');
    assert.deepEqual(u.writes.map((w) => w.target).sort(), ['email', 'remark']);
    const r = traceCommand({ update: 'people', updates: [{ q: {}, u: { $rename: { ssn: 'ref' }, $set: { a: 1 } } }] }, 'app');
    assert.deepEqual(r.writes, [{ target: 'ref', lineage: { sources: ['ssn'], plain: 'ssn', unknown: null } }]);
    const replace = traceCommand({ update: 'people', updates: [{ q: {}, u: [{ $replaceWith: { $arrayToObject: { $map: { input: { $objectToArray: '$$ROOT' }, in: { k: '$$this.k', v: '$$this.v' } } } } }] }] }, 'app');
    assert.ok(replace.writes.some((w) => w.lineage.unknown !== null));
    assert.deepEqual(traceCommand({ find: 'p', filter: { $where: 'x' } }, 'app').js, ['$where']);
    assert.deepEqual(agg([{ $group: { _id: null, x: { $accumulator: {} } } }]).js, ['$accumulator']);
    assert.deepEqual(traceCommand({ mapReduce: 'p', map: 'f', reduce: 'g', out: { inline: 1 } }, 'app').js, ['mapReduce']);
    const out = agg([{ $match: {} }, { $merge: { into: { db: 'x', coll: 'y' } } }]);
    assert.equal(out.writeStage, '$merge');
    assert.equal(out.writeTarget, 'x.y');
  });

  test('views: a find or $lookup of a view is traced through its pipeline (and views of views)', () => {
    const defs: Record<string, ViewDefinition> = {
      v: { viewOn: 'people', pipeline: [{ $project: { note: '$diagnosis', contact: '$email' } }] },
      vv: { viewOn: 'v', pipeline: [{ $project: { again: '$note' } }] },
    };
    const views = (_db: string, coll: string): ViewDefinition | null | undefined => (coll in defs ? defs[coll] : coll === 'people' ? null : undefined);
    assert.equal(at(traceCommand({ find: 'v', filter: {} }, 'app', { views }), 'note'), 'plain:diagnosis');
    assert.equal(at(traceCommand({ find: 'vv', filter: {} }, 'app', { views }), 'again'), 'plain:diagnosis');
    assert.equal(at(traceCommand({ aggregate: 'people', pipeline: [{ $lookup: { from: 'v', localField: 'k', foreignField: 'k', as: 'j' } }] }, 'app', { views }), 'j.contact'), 'plain:email');
    assert.equal(at(traceCommand({ distinct: 'v', key: 'note' }, 'app', { views }), 'note'), 'plain:diagnosis');
    assert.deepEqual(traceCommand({ find: 'newcoll', filter: {} }, 'app', { views }).unresolved, ['app.newcoll']);
  });

  test('explain is traced as the command it explains; its result is a plan, not documents', () => {
    const t = traceCommand({ explain: { aggregate: 'p', pipeline: [{ $project: { x: { $function: { body: 'f', args: [], lang: 'js' } } } }], cursor: {} }, verbosity: 'queryPlanner' }, 'app');
    assert.equal(t.explain, true);
    assert.equal(t.result, null);
    assert.deepEqual(t.js, ['$function']);
  });
});

describe('verdicts', () => {
  test('masked roles: JavaScript, $out/$merge, untraceable outputs and laundering writes are refused; admin is not concerned', () => {
    const refusal = (t: CommandTrace, role = 'analyst', p = policy): string | null => decide(t, p, role).refusal;
    assert.match(refusal(traceCommand({ find: 'p', filter: { $where: 'this.a' } }, 'app')) ?? '', /server-side JavaScript/);
    assert.match(refusal(agg([{ $out: 'copy' }])) ?? '', /\$out is not allowed for role analyst/);
    assert.match(refusal(agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }])) ?? '', /dgf cannot trace output field x\.v of this pipeline: \$objectToArray/);
    assert.match(refusal(traceCommand({ update: 'p', updates: [{ q: {}, u: { $rename: { diagnosis: 'remark' } } }] }, 'app')) ?? '', /phi\.diagnosis\) into remark/);
    assert.equal(refusal(traceCommand({ update: 'p', updates: [{ q: {}, u: { $rename: { email: 'backup_email' } } }] }, 'app')), null);
    assert.equal(refusal(traceCommand({ update: 'p', updates: [{ q: {}, u: [{ $set: { email: { $toLower: '$email' } } }] }] }, 'app')), null);
    assert.match(refusal(traceCommand({ update: 'p', updates: [{ q: {}, u: [{ $set: { note: { $concat: ['X', '$ssn'] } } }] }] }, 'app')) ?? '', /pii\.ssn\) into note/);
    for (const t of [agg([{ $out: 'copy' }]), agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]), traceCommand({ update: 'p', updates: [{ q: {}, u: { $rename: { diagnosis: 'remark' } } }] }, 'app')]) {
      assert.equal(refusal(t, 'admin'), null);
    }
    assert.equal(refusal(agg([{ $project: { m: '$email', n: { $concat: ['$email', ''] } } }])), null);
  });

  test('onUnknownLineage: mask answers the untraceable output masked whole instead', () => {
    const t = agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]);
    assert.equal(decide(t, maskPolicy, 'analyst').refusal, null);
    assert.notEqual(decide(t, maskPolicy, 'default').refusal, null);
    // A write dgf cannot trace is refused whatever the setting says.
    const w = traceCommand({ update: 'p', updates: [{ q: {}, u: [{ $replaceWith: { $arrayToObject: { $map: { input: { $objectToArray: '$$ROOT' }, in: { k: '$$this.k', v: '$$this.v' } } } } }] }] }, 'app');
    assert.notEqual(decide(w, maskPolicy, 'analyst').refusal, null);
  });
});

describe('the planner: plain copies keep their mask, derived values get the derived mask', () => {
  const docs = [{ _id: 1, email: 'ada.lovelace@example.com', m: 'ada.lovelace@example.com', c: 'ada.lovelace@example.com', n: 12, x: [{ k: 'ssn', v: '123-45-6789' }], note: 'hello' }];
  function masked(t: CommandTrace, p: CompiledPolicy = policy): Record<string, unknown> {
    const planner = new ShapePlanner(() => p, p, 'analyst', 'app.people', t.result);
    planner.refresh(undefined);
    const reply = serialize({ cursor: { id: Long.fromNumber(0), ns: 'app.people', firstBatch: docs }, ok: 1 });
    const out = maskCursorReply(reply, planner) ?? reply;
    return (deserialize(out).cursor.firstBatch as Array<Record<string, unknown>>)[0]!;
  }

  test('a rename: the email mask; a $concat: redacted whole; a number derived from a classified field: null', () => {
    const d = masked(agg([{ $project: { email: 1, m: '$email', c: { $concat: ['$email', ''] }, n: { $strLenCP: '$ssn' }, note: '$name' } }]));
    assert.equal(d.email, 'a***@example.com');
    assert.equal(d.m, 'a***@example.com');
    assert.equal(d.c, REDACTED);
    assert.equal(d.n, 0); // int32 keeps its type: the derived mask's null written as 0
    assert.equal(d.note, 'hello');
  });

  test('onUnknownLineage: mask: the untraceable values are redacted, the names stay', () => {
    const d = masked(agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]), maskPolicy);
    const x = d.x as Array<Record<string, unknown>>;
    assert.equal(x[0]!.k, 'ssn');
    assert.equal(x[0]!.v, REDACTED);
  });
});

describe('the trace cache', () => {
  test('predicate values do not change the key; what decides lineage does', () => {
    const k = (cmd: Record<string, unknown>): string | null => shapeKey(cmd, 'app', 't');
    assert.equal(k({ find: 'p', filter: { email: 'a@b.c' } }), k({ find: 'p', filter: { email: 'x@y.z' } }));
    assert.equal(k({ aggregate: 'p', pipeline: [{ $match: { k: 1 } }, { $limit: 5 }, { $project: { m: '$email' } }] }), k({ aggregate: 'p', pipeline: [{ $match: { k: 2 } }, { $limit: 9 }, { $project: { m: '$email' } }] }));
    assert.notEqual(k({ aggregate: 'p', pipeline: [{ $project: { m: { $getField: 'ssn' } } }] }), k({ aggregate: 'p', pipeline: [{ $project: { m: { $getField: 'name' } } }] }));
    // A field named like a predicate (filter, q, sort) inside a projection is not a predicate.
    assert.notEqual(k({ aggregate: 'p', pipeline: [{ $project: { filter: { $getField: 'ssn' } } }] }), k({ aggregate: 'p', pipeline: [{ $project: { filter: { $getField: 'name' } } }] }));
    assert.notEqual(k({ aggregate: 'p', pipeline: [{ $project: { a: 1 } }] }), k({ aggregate: 'p', pipeline: [{ $project: { a: 0 } }] }));
    assert.notEqual(k({ find: 'p', filter: {}, projection: { a: 1 } }), k({ find: 'p', filter: {}, projection: { a: '1' } }));
  });

  test('update values share a key; what an update reads or renames into does not', () => {
    const k = (cmd: Record<string, unknown>): string | null => shapeKey(cmd, 'app', 't');
    const upd = (u: unknown): string | null => k({ update: 'p', updates: [{ q: { _id: 1 }, u }] });
    const fam = (update: unknown): string | null => k({ findAndModify: 'p', query: { _id: 1 }, update, new: true });
    // The attacks first: a value that names a field, a renamed classified field, a pipeline reading one.
    assert.notEqual(upd({ $rename: { ssn: 'x' } }), upd({ $rename: { ssn: 'y' } }));
    assert.notEqual(upd({ $rename: { ssn: 'x' } }), upd({ $rename: { name: 'x' } }));
    assert.notEqual(upd({ $rename: { ssn: 'x' } }), upd({ $rename: { ssn: 5 } }));
    assert.notEqual(upd({ $rename: { ssn: 'x' } }), upd({ $set: { ssn: 'x' } }));
    assert.notEqual(upd([{ $set: { a: '$ssn' } }]), upd([{ $set: { a: '$name' } }]));
    assert.notEqual(upd([{ $set: { a: '$ssn' } }]), upd({ $set: { a: '$ssn' } }));
    assert.notEqual(fam({ $rename: { ssn: 'x' } }), fam({ $rename: { ssn: 'y' } }));
    assert.notEqual(fam([{ $set: { a: '$ssn' } }]), fam([{ $set: { a: '$name' } }]));
    assert.notEqual(upd({ $set: { a: 1 } }), upd({ $set: { b: 1 } }));
    assert.notEqual(upd({ $set: { a: 1 } }), upd({ $unset: { a: 1 } }));
    assert.notEqual(upd({ $set: { a: 1 } }), upd({ $set: { a: 1 }, $inc: { n: 1 } }));
    // Values written never decide lineage: one key for them.
    assert.equal(upd({ $set: { v: 'v1 user1@example.com' } }), upd({ $set: { v: 'v2 user2@example.com' } }));
    assert.equal(upd({ $set: { v: { $getField: 'ssn' } } }), upd({ $set: { v: 'literal' } }));
    assert.equal(upd({ a: 1, b: 'x' }), upd({ a: 2, b: 'y' }));
    assert.equal(fam({ $inc: { n: 1 }, $push: { tags: 'x' } }), fam({ $inc: { n: 5 }, $push: { tags: 'y' } }));
    assert.equal(k({ bulkWrite: 1, ops: [{ update: 0, filter: {}, updateMods: { $set: { v: 1 } } }] }), k({ bulkWrite: 1, ops: [{ update: 0, filter: {}, updateMods: { $set: { v: 2 } } }] }));
  });

  test('updates that share a key have the same trace as traced one by one', () => {
    const cases: unknown[] = [
      { $set: { v: 'a' }, $rename: { ssn: 'copy' } },
      { $set: { 'a.$[x].b': 1 }, $inc: { n: 2 } },
      { a: 1, b: { c: 2 } },
      { $set: 5, $rename: { ssn: 7 } },
    ];
    const cache = new TraceCache();
    for (const u of cases) {
      const cmd = { update: 'p', updates: [{ q: { _id: 1 }, u }] };
      const cached = cache.get(cmd, 'app', {}, '');
      const direct = traceCommand(cmd, 'app');
      assert.deepEqual(cached.writes, direct.writes);
      assert.deepEqual(cached.reads, direct.reads);
      assert.deepEqual(cached.unknown, direct.unknown);
    }
    const a = cache.get({ update: 'p', updates: [{ q: { _id: 1 }, u: { $set: { v: 'x1' }, $rename: { ssn: 'copy' } } }] }, 'app', {}, '');
    const b = cache.get({ update: 'p', updates: [{ q: { _id: 2 }, u: { $set: { v: 'x2' }, $rename: { ssn: 'copy' } } }] }, 'app', {}, '');
    assert.equal(a, b);
    assert.equal(a.writes.length, 1);
  });

  test('one trace object per shape, shared', () => {
    const cache = new TraceCache();
    const a = cache.get({ aggregate: 'p', pipeline: [{ $match: { k: 1 } }, { $project: { m: '$email' } }] }, 'app', {}, '');
    const b = cache.get({ aggregate: 'p', pipeline: [{ $match: { k: 7 } }, { $project: { m: '$email' } }] }, 'app', {}, '');
    assert.equal(a, b);
  });

  test('describeCommand reads update statements sent as document sequences', () => {
    const info = describeCommand({ update: 'p' }, 'app', new Map([['updates', [{ q: {}, u: { $rename: { ssn: 'x' } } }]]]));
    assert.equal(info.trace.writes.length, 1);
  });
});

describe('comparisons of whole documents', () => {
  test('a comparison or type test of $$ROOT is a boolean; in a condition it flows (untraceable)', () => {
    assert.equal(at(agg([{ $project: { b: { $eq: ['$$ROOT', { a: 1 }] }, t: { $type: '$$ROOT' } } }]), 'b'), 'const');
    assert.equal(at(agg([{ $project: { x: { $cond: [{ $eq: ['$$ROOT', { a: 1 }] }, 'y', 'n'] } } }]), 'x'), 'unknown');
  });
});

describe('bounded work', () => {
  test('nested $reduce or thousands of dotted fields: untraceable, not a denial of service', () => {
    let e: unknown = { a: '$$value', b: '$$this' };
    for (let i = 0; i < 12; i++) e = { $reduce: { input: '$tags', initialValue: {}, in: { a: '$$value', b: e } } };
    const started = Date.now();
    const t = agg([{ $project: { x: e } }]);
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
    assert.match(t.unknown?.why ?? '', /too complex|cannot follow/);
    const wide: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) wide[`a.b${i}`] = '$email';
    const w = agg([{ $project: wide }]);
    assert.ok(w.unknown !== null || w.result !== null);
  });
});
