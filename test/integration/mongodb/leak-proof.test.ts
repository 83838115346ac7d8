/**
 * Issue #16, "Must show" (MongoDB): bypass attempts of the masked role `analyst` through a real dgf in front of
 * CongoDB, written as an attacker fluent in aggregation pipelines would write them. Each attempt is first run directly
 * against CongoDB (it must show clear values there: an attempt that shows nothing directly proves nothing through
 * dgf), then through dgf as analyst, where everything it receives (documents, distinct values, error messages,
 * errInfo, write errors) must show no clear value (leak-check.ts says what counts). A refusal in MongoDB's own format
 * (code 13 Unauthorized, naming what could not be traced) shows nothing and passes; an error that echoes a value
 * does not.
 *
 * Where CongoDB lacks the operator or the server behaviour (sub-pipelines of `$lookup`, update pipelines, `explain`,
 * expression projections of `find`, unique indexes on updates, document validation, `$merge`), the attempt tests
 * the tracer's decision on the command dgf would forward: refused, or the reply MongoDB documents for it (built
 * from the data read directly) masked and scrubbed exactly as dgf masks and scrubs a real reply. Those attempts
 * still run live too, and must not leak either.
 *
 * One test per family: it runs every attempt, collects every leak, and fails listing all of them.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, Long, serialize } from 'bson';
import { MongoClient, type Collection, type Db, type Document } from 'mongodb';
import { PolicyStore, type CompiledPolicy } from '../../../src/policy/index.js';
import { TEST_HASH_KEY } from '../../helpers/dgf.js';
import { describeCommand } from '../../../protocols/mongodb/command.js';
import { ShapePlanner } from '../../../protocols/mongodb/masking.js';
import { maskCursorReply, maskValueReply } from '../../../protocols/mongodb/codec/reply.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';
import { findLeaks, isRefusal, receive, secretsOf, type Received, type Secrets } from './leak-check.js';
import { PEOPLE, seedPeople } from './leak-fixtures.js';

type Run = (c: Collection, db: Db, coll: string) => Promise<unknown>;

interface Attempt {
  name: string;
  /** The attack, live: directly against CongoDB and through dgf as analyst. */
  run?: Run;
  /** It writes: each run gets its own fresh copy of the people. */
  fresh?: boolean;
  /** CongoDB cannot show it: why (the operator or behaviour it lacks, or a message that names no value). */
  congo?: string;
  /** The command dgf would forward to a real MongoDB (without `$db`): the tracer's decision is tested on it. */
  forwarded?: (coll: string) => Document;
  /** `refused` (code 13), or `answered` (then `would` is MongoDB's documented answer, masked as dgf would). */
  expect?: 'refused' | 'answered';
  /** MongoDB's answer to `forwarded`: the documents of its cursor, or a whole reply (errors, write errors). */
  would?: (people: Document[], coll: string) => { docs: Document[] } | { reply: Document };
  /** What an attacker decodes on the client from what came back (digits found by index, ...). */
  decode?: (value: unknown) => unknown;
}

const agg = (pipeline: Document[]): Run => (c) => c.aggregate(pipeline).toArray();
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** `$map` over the positions of `$ssn`, one character at a time through `inner(char)`. */
const perChar = (field: string, inner: (ch: Document) => unknown): Document => ({
  $map: { input: { $range: [0, 30] }, as: 'i', in: inner({ $substrCP: [field, '$$i', 1] }) },
});

// ------------------------------------------------------------------------------------------------ the attempts

const FAMILIES: Record<string, Attempt[]> = {
  'field access: $getField/$setField, $$ROOT/$$CURRENT': [
    { name: '$getField by name', run: agg([{ $project: { x: { $getField: 'diagnosis' } } }]) },
    { name: '$getField of $$ROOT', run: agg([{ $project: { x: { $getField: { field: 'ssn', input: '$$ROOT' } } } }]) },
    { name: '$getField with a $literal name of $$CURRENT', run: agg([{ $project: { x: { $getField: { field: { $literal: 'diagnosis' }, input: '$$CURRENT' } } } }]) },
    { name: '$getField with a computed name', run: agg([{ $project: { x: { $getField: { $concat: ['diag', 'nosis'] } } } }]) },
    { name: '$setField into an empty document', run: agg([{ $replaceWith: { $setField: { field: 'note', input: {}, value: '$diagnosis' } } }]) },
    { name: '$$CURRENT.path under a new name', run: agg([{ $project: { x: '$$CURRENT.ssn', y: '$$ROOT.full_name' } }]) },
    { name: '$let binding $$ROOT, then $getField', run: agg([{ $project: { x: { $let: { vars: { r: '$$ROOT' }, in: { $getField: { field: 'ssn', input: '$$r' } } } } } }]) },
    { name: 'a copy of $$ROOT, then a rename out of it', run: agg([{ $addFields: { copy: '$$ROOT' } }, { $project: { v: '$copy.diagnosis', m: '$copy.medication' } }]) },
  ],
  '$objectToArray / $arrayToObject': [
    { name: '$objectToArray of $$ROOT', run: agg([{ $project: { x: { $objectToArray: '$$ROOT' } } }]) },
    { name: 'values of $objectToArray($$ROOT) by $map', run: agg([{ $project: { x: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'e', in: '$$e.v' } } } }]) },
    {
      name: 'every field renamed by $arrayToObject($map($objectToArray))',
      run: agg([{ $replaceWith: { $arrayToObject: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'e', in: { k: { $concat: ['$$e.k', 'X'] }, v: '$$e.v' } } } } }]),
    },
    { name: '$arrayToObject of a literal pair holding a field', run: agg([{ $project: { x: { $arrayToObject: [[['note', '$diagnosis']]] } } }]) },
    { name: '$arrayToObject turning values into field names', run: agg([{ $replaceWith: { $arrayToObject: [[{ k: '$ssn', v: 1 }, { k: '$diagnosis', v: 2 }]] } }]) },
    { name: 'values of $objectToArray of a subdocument', run: agg([{ $project: { x: { $map: { input: { $objectToArray: '$contact' }, in: '$$this.v' } } } }]) },
  ],
  '$replaceRoot / $replaceWith': [
    { name: '$replaceRoot to a new document of renames', run: agg([{ $replaceRoot: { newRoot: { n: '$ssn', d: '$diagnosis' } } }]) },
    { name: '$replaceWith $mergeObjects with a renamed field', run: agg([{ $replaceWith: { $mergeObjects: [{}, { note: '$diagnosis', city: '$medication' }] } }]) },
    { name: '$replaceWith $mergeObjects of a subdocument overriding city', run: agg([{ $replaceWith: { $mergeObjects: ['$contact', { city: '$ssn' }] } }]) },
    {
      name: "$replaceWith a string: MongoDB's error echoes it and the input document",
      run: agg([{ $replaceWith: '$ssn' }]),
      congo: 'its error message names no value',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $replaceWith: '$ssn' }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({
        reply: {
          ok: 0,
          code: 40228,
          codeName: 'Location40228',
          errmsg: `'replacement document' must evaluate to an object, but resulting value was: "${String(people[0]!.ssn)}". Type of resulting value: 'string'. Input document: {_id: ObjectId('${String(people[0]!._id)}'), k: 1, name: "Ada", full_name: "${String(people[0]!.full_name)}", email: "${String(people[0]!.email)}", diagnosis: "${String(people[0]!.diagnosis)}", ...}`,
        },
      }),
    },
  ],
  '$facet': [
    { name: 'renames in two facets', run: agg([{ $facet: { a: [{ $project: { n: '$ssn' } }], b: [{ $replaceWith: { q: '$diagnosis' } }] } }]) },
    { name: '$group $push of a derived value inside a facet', run: agg([{ $facet: { a: [{ $group: { _id: null, all: { $push: { $concat: ['$email', ''] } } } }] } }]) },
  ],
  '$unionWith / $lookup sub-pipelines': [
    { name: '$unionWith sub-pipeline renaming ssn to name', run: agg([{ $project: { name: 1 } }, { $unionWith: { coll: '$$COLL', pipeline: [{ $project: { name: '$ssn' } }] } }]) },
    { name: '$unionWith sub-pipeline renaming diagnosis to dept', run: agg([{ $match: { k: 0 } }, { $unionWith: { coll: '$$COLL', pipeline: [{ $project: { dept: '$diagnosis', city: '$medication' } }] } }]) },
    { name: '$lookup by keys, then a rename out of the joined documents', run: agg([{ $lookup: { from: '$$COLL', localField: 'k', foreignField: 'k', as: 'j' } }, { $project: { z: '$j.ssn', w: '$j.diagnosis' } }]) },
    {
      name: '$lookup sub-pipeline with let: a local field through a variable',
      run: agg([{ $lookup: { from: '$$COLL', let: { d: '$diagnosis' }, pipeline: [{ $limit: 1 }, { $project: { _id: 0, v: '$$d' } }], as: 'j' } }]),
      congo: '$lookup with a pipeline (CongoDB reads localField only)',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $lookup: { from: coll, let: { d: '$diagnosis' }, pipeline: [{ $limit: 1 }, { $project: { _id: 0, v: '$$d' } }], as: 'j' } }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ ...p, j: [{ v: p.diagnosis }] })) }),
    },
    {
      name: '$lookup sub-pipeline renaming the foreign field',
      run: agg([{ $lookup: { from: '$$COLL', pipeline: [{ $project: { _id: 0, note: '$diagnosis', who: { $toUpper: '$full_name' } } }], as: 'j' } }, { $project: { j: 1 } }]),
      congo: '$lookup with a pipeline',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $lookup: { from: coll, pipeline: [{ $project: { _id: 0, note: '$diagnosis', who: { $toUpper: '$full_name' } } }], as: 'j' } }, { $project: { j: 1 } }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ _id: p._id, j: people.map((q) => ({ note: q.diagnosis, who: String(q.full_name).toUpperCase() })) })) }),
    },
    {
      name: '$lookup sub-pipeline reading the local document through let $$ROOT',
      congo: '$lookup with a pipeline',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $lookup: { from: coll, let: { r: '$$ROOT' }, pipeline: [{ $limit: 1 }, { $project: { _id: 0, x: '$$r.diagnosis', y: { $concat: ['$$r.email', ''] } } }], as: 'j' } }, { $project: { j: 1 } }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ _id: p._id, j: [{ x: p.diagnosis, y: p.email }] })) }),
    },
    {
      name: '$documents then $lookup: a database-level pipeline',
      congo: '$documents and $lookup with a pipeline',
      forwarded: (coll) => ({ aggregate: 1, pipeline: [{ $documents: [{ x: 1 }] }, { $lookup: { from: coll, pipeline: [{ $replaceWith: { s: '$ssn' } }], as: 'all' } }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({ docs: [{ x: 1, all: people.map((p) => ({ s: p.ssn })) }] }),
    },
  ],
  '$graphLookup': [
    { name: '$graphLookup then $concat over the joined documents', run: agg([{ $graphLookup: { from: '$$COLL', startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'g' } }, { $project: { g: { $map: { input: '$g', in: { $concat: ['$$this.ssn', ''] } } } } }]) },
    { name: '$graphLookup then a rename out of the joined documents', run: agg([{ $graphLookup: { from: '$$COLL', startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'g' } }, { $project: { x: '$g.diagnosis' } }]) },
  ],
  '$setWindowFields': [
    { name: 'window $push of a classified field', run: agg([{ $setWindowFields: { sortBy: { k: 1 }, output: { all: { $push: '$diagnosis', window: { documents: ['unbounded', 'unbounded'] } } } } }, { $project: { all: 1 } }]) },
    { name: 'window $shift of ssn to the next document', run: agg([{ $setWindowFields: { sortBy: { k: 1 }, output: { prev: { $shift: { output: '$ssn', by: -1, default: 'none' } } } } }, { $project: { prev: 1 } }]) },
    { name: 'window $first of a derived e-mail', run: agg([{ $setWindowFields: { sortBy: { k: 1 }, output: { f: { $first: { $concat: ['$email', ''] }, window: { documents: ['unbounded', 'unbounded'] } } } } }, { $project: { f: 1 } }]) },
    { name: 'window $last of a full name under a new name', run: agg([{ $setWindowFields: { sortBy: { k: 1 }, output: { l: { $last: '$full_name', window: { documents: ['unbounded', 'unbounded'] } } } } }, { $project: { l: 1 } }]) },
  ],
  '$densify / $fill': [
    { name: '$densify then $fill locf of a renamed diagnosis', run: agg([{ $project: { k: 1, d: '$diagnosis' } }, { $densify: { field: 'k', range: { step: 1, bounds: [0, 8] } } }, { $fill: { sortBy: { k: 1 }, output: { d: { method: 'locf' } } } }]) },
    { name: '$fill with a value expression reading diagnosis', run: agg([{ $fill: { sortBy: { k: 1 }, output: { nick: { value: '$diagnosis' } } } }, { $project: { nick: 1 } }]) },
  ],
  '$group / $bucketAuto / $sortByCount': [
    { name: '$group $first/$push/$addToSet/$max', run: agg([{ $group: { _id: null, e: { $first: '$ssn' }, all: { $push: '$diagnosis' }, s: { $addToSet: '$email' }, m: { $max: '$full_name' } } }]) },
    { name: '$group by diagnosis', run: agg([{ $group: { _id: '$diagnosis', n: { $sum: 1 } } }]) },
    { name: '$group by a derived key', run: agg([{ $group: { _id: { $toUpper: '$diagnosis' } } }]) },
    { name: '$group $topN of ssn', run: agg([{ $group: { _id: '$dept', top: { $topN: { n: 3, sortBy: { k: 1 }, output: '$ssn' } } } }]) },
    { name: '$bucketAuto by diagnosis (min/max are values)', run: agg([{ $bucketAuto: { groupBy: '$diagnosis', buckets: 2 } }]) },
    { name: '$sortByCount of diagnosis', run: agg([{ $sortByCount: '$diagnosis' }]) },
  ],
  'string operators and windows of classified strings': [
    { name: '$concat with an empty string', run: agg([{ $project: { x: { $concat: ['$email', ''] } } }]) },
    { name: '$toUpper', run: agg([{ $project: { x: { $toUpper: '$diagnosis' } } }]) },
    { name: '$substrCP of the whole ssn', run: agg([{ $project: { x: { $substrCP: ['$ssn', 0, 20] } } }]) },
    { name: '$substrBytes of the local part', run: agg([{ $project: { x: { $substrBytes: ['$email', 0, 16] } } }]) },
    { name: '$split into words', run: agg([{ $project: { x: { $split: ['$diagnosis', ' '] } } }]) },
    { name: '$regexFind of the whole e-mail', run: agg([{ $project: { x: { $regexFind: { input: '$email', regex: '^.*$' } } } }]) },
    { name: '$regexFindAll of words', run: agg([{ $project: { x: { $regexFindAll: { input: '$diagnosis', regex: '[A-Za-z]+' } } } }]) },
    { name: '$reverseArray of $split into characters', run: agg([{ $project: { x: { $reverseArray: perChar('$full_name', (ch) => ch) } } }]) },
    { name: '$map of one character per position', run: agg([{ $project: { x: perChar('$ssn', (ch) => ch) } }]) },
    { name: '$reduce concatenating $split pieces', run: agg([{ $project: { x: { $reduce: { input: { $split: ['$ssn', '-'] }, initialValue: '', in: { $concat: ['$$value', '$$this'] } } } } }]) },
    { name: '$replaceAll dashes of the ssn', run: agg([{ $project: { x: { $replaceAll: { input: '$ssn', find: '-', replacement: '' } } } }]) },
    { name: '$unwind of $split words', run: agg([{ $project: { w: { $split: ['$diagnosis', ' '] } } }, { $unwind: '$w' }]) },
    {
      name: 'literal digits chosen by $filter on each character',
      run: agg([{ $project: { x: perChar('$ssn', (ch) => ({ $first: { $filter: { input: [...DIGITS, '-'], as: 'c', cond: { $eq: ['$$c', ch] } } } })) } }]),
    },
    {
      name: 'windows of the e-mail at successive offsets (each masked alone would show its first letter)',
      run: agg([{ $project: { x: { $map: { input: { $range: [0, 40] }, as: 'i', in: { $substrCP: ['$email', '$$i', 100] } } } } }]),
      decode: (v) => (Array.isArray(v) ? v.map((d: Document) => (Array.isArray(d.x) ? (d.x as unknown[]).map((w) => String(w).charAt(0)).join('') : '')) : v),
    },
    {
      name: 'literal digits chosen by $switch on each character',
      run: agg([{ $project: { x: perChar('$ssn', (ch) => ({ $switch: { branches: DIGITS.map((d) => ({ case: { $eq: [ch, d] }, then: d })), default: '' } })) } }]),
    },
    {
      name: 'digits found by $indexOfArray on each character',
      run: agg([{ $project: { x: perChar('$ssn', (ch) => ({ $indexOfArray: [DIGITS, ch] })) } }]),
      decode: (v) => (Array.isArray(v) ? v.map((d: Document) => (Array.isArray(d.x) ? (d.x as number[]).filter((n) => n >= 0).join('') : '')) : v),
    },
  ],
  'choices: $let/$cond/$switch/$ifNull/$max/arrays': [
    { name: '$let', run: agg([{ $project: { x: { $let: { vars: { v: '$diagnosis' }, in: '$$v' } } } }]) },
    { name: '$cond', run: agg([{ $project: { x: { $cond: [{ $gt: ['$k', 0] }, '$ssn', null] } } }]) },
    { name: '$switch', run: agg([{ $project: { x: { $switch: { branches: [{ case: { $gt: ['$k', 0] }, then: '$diagnosis' }], default: 'none' } } } }]) },
    { name: '$ifNull of a missing field', run: agg([{ $project: { x: { $ifNull: ['$missing', '$ssn'] } } }]) },
    { name: '$max expression form', run: agg([{ $project: { x: { $max: ['$diagnosis', ''] } } }]) },
    { name: '$zip', run: agg([{ $project: { x: { $zip: { inputs: [['a'], ['$diagnosis']] } } } }]) },
    { name: '$sortArray / $concatArrays', run: agg([{ $project: { x: { $sortArray: { input: ['$ssn'], sortBy: 1 } }, y: { $concatArrays: [['$medication'], []] } } }]) },
  ],
  'conversions and errors that echo values': [
    { name: '$toString', run: agg([{ $project: { x: { $toString: '$ssn' } } }]) },
    { name: '$convert to string', run: agg([{ $project: { x: { $convert: { input: '$ssn', to: 'string' } } } }]) },
    { name: '$dateFromString with onError returning the input', run: agg([{ $project: { x: { $dateFromString: { dateString: '$diagnosis', onError: '$diagnosis' } } } }]) },
    { name: '$toInt of ssn: the error quotes it', run: agg([{ $project: { x: { $toInt: '$ssn' } } }]) },
    { name: '$toDate of e-mail: the error quotes it', run: agg([{ $project: { x: { $toDate: '$email' } } }]) },
    { name: '$toDouble of diagnosis: the error quotes it', run: agg([{ $project: { x: { $toDouble: '$diagnosis' } } }]) },
    { name: '$toInt inside a find $expr filter', run: (c) => c.find({ $expr: { $eq: [{ $toInt: '$ssn' }, 1] } }).toArray() },
    { name: '$toDate inside a distinct query', run: (c) => c.distinct('k', { $expr: { $eq: [{ $toDate: '$email' }, 1] } }) },
    { name: '$toLong inside a count', run: (c) => c.countDocuments({ $expr: { $eq: [{ $toLong: '$ssn' }, 1] } }) },
    { name: '$toInt inside an update filter', fresh: true, run: (c) => c.updateOne({ $expr: { $eq: [{ $toInt: '$ssn' }, 1] } }, { $set: { z: 1 } }) },
    { name: '$toLong inside a delete filter', fresh: true, run: (c) => c.deleteOne({ $expr: { $eq: [{ $toLong: '$ssn' }, 1] } }) },
    {
      name: '$divide by a string field',
      run: agg([{ $project: { x: { $divide: [1, '$ssn'] } } }]),
      congo: "its error, like MongoDB's, names types only",
    },
    {
      name: "$toInt: MongoDB's own message quotes the value",
      congo: 'quotes in its own format',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $project: { x: { $toInt: '$ssn' } } }], cursor: {} }),
      expect: 'answered',
      would: (people) => ({ reply: { ok: 0, code: 241, codeName: 'ConversionFailure', errmsg: `Failed to parse number '${String(people[0]!.ssn)}' in $convert with no onError value: Did not consume whole string.` } }),
    },
    {
      name: 'duplicate key on a compound unique index: the error echoes the other field',
      congo: 'unique indexes on updates',
      forwarded: (coll) => ({ update: coll, updates: [{ q: { k: 2 }, u: { $set: { dept: 'sales' } } }] }),
      expect: 'answered',
      would: (people, coll) => ({
        reply: {
          ok: 1,
          n: 0,
          nModified: 0,
          writeErrors: [
            {
              index: 0,
              code: 11000,
              errmsg: `E11000 duplicate key error collection: app.${coll} index: dept_1_email_1 dup key: { dept: "sales", email: "${String(people[1]!.email)}" }`,
              keyPattern: { dept: 1, email: 1 },
              keyValue: { dept: 'sales', email: people[1]!.email },
            },
          ],
        },
      }),
    },
    {
      name: 'findAndModify duplicate key: top-level errmsg and keyValue',
      congo: 'unique indexes on updates',
      forwarded: (coll) => ({ findAndModify: coll, query: { k: 2 }, update: { $set: { dept: 'sales' } } }),
      expect: 'answered',
      would: (people, coll) => ({
        reply: {
          ok: 0,
          code: 11000,
          codeName: 'DuplicateKey',
          errmsg: `Plan executor error during findAndModify :: caused by :: E11000 duplicate key error collection: app.${coll} index: ssn_1_dept_1 dup key: { ssn: "${String(people[1]!.ssn)}", dept: "sales" }`,
          keyPattern: { ssn: 1, dept: 1 },
          keyValue: { ssn: people[1]!.ssn, dept: 'sales' },
        },
      }),
    },
    {
      name: 'document validation: errInfo carries the considered value of another field',
      congo: 'document validation',
      forwarded: (coll) => ({ update: coll, updates: [{ q: { k: 1 }, u: { $set: { age: 42 } } }] }),
      expect: 'answered',
      would: (people) => ({
        reply: {
          ok: 1,
          n: 0,
          nModified: 0,
          writeErrors: [
            {
              index: 0,
              code: 121,
              errmsg: 'Document failed validation',
              errInfo: {
                failingDocumentId: people[0]!._id,
                details: {
                  operatorName: '$jsonSchema',
                  schemaRulesNotSatisfied: [
                    {
                      operatorName: 'properties',
                      propertiesNotSatisfied: [
                        { propertyName: 'diagnosis', details: [{ operatorName: 'maxLength', specifiedAs: { maxLength: 10 }, reason: 'specified string length was not satisfied', consideredValue: people[0]!.diagnosis }] },
                        { propertyName: 'card_number', details: [{ operatorName: 'pattern', specifiedAs: { pattern: '^[0-9]{16}$' }, reason: 'regular expression did not match', consideredValue: people[2]!.card_number }] },
                      ],
                    },
                  ],
                },
              },
            },
          ],
        },
      }),
    },
    {
      name: 'explain with executionStats of a $toInt filter: the error of the explained command',
      congo: 'explain',
      run: (c) => c.find({ $expr: { $eq: [{ $toInt: '$ssn' }, 1] } }).explain('executionStats'),
      forwarded: (coll) => ({ explain: { find: coll, filter: { $expr: { $eq: [{ $toInt: '$ssn' }, 1] } } }, verbosity: 'executionStats' }),
      expect: 'answered',
      would: (people) => ({ reply: { ok: 0, code: 241, codeName: 'ConversionFailure', errmsg: `PlanExecutor error during explain :: caused by :: Failed to parse number '${String(people[0]!.ssn)}' in $convert with no onError value: Did not consume whole string.` } }),
    },
    {
      name: 'explain of a pipeline that renames: its plan',
      congo: 'explain',
      run: (c) => c.aggregate([{ $project: { n: '$ssn' } }]).explain('queryPlanner'),
      forwarded: (coll) => ({ explain: { aggregate: coll, pipeline: [{ $project: { n: '$ssn' } }], cursor: {} }, verbosity: 'queryPlanner' }),
      expect: 'answered',
      would: (people, coll) => ({
        reply: {
          ok: 1,
          explainVersion: '1',
          queryPlanner: { namespace: `app.${coll}`, parsedQuery: {}, winningPlan: { stage: 'PROJECTION_DEFAULT', transformBy: { _id: true, n: '$ssn' }, inputStage: { stage: 'COLLSCAN', direction: 'forward' } }, rejectedPlans: [] },
          command: { aggregate: coll, pipeline: [{ $project: { n: '$ssn' } }], cursor: {}, $db: 'app' },
          // What a plan cache or a misbehaving server might add: a value no client sent.
          serverInfo: { host: 'db0', note: `sample ${String(people[3]!.email)}` },
        },
      }),
    },
  ],
  'server-side JavaScript (refused)': [
    {
      name: '$function in $project',
      run: agg([{ $project: { x: { $function: { body: 'function(s) { return s + "" }', args: ['$ssn'], lang: 'js' } } } }]),
      congo: '$function',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $project: { x: { $function: { body: 'function(s) { return s + "" }', args: ['$ssn'], lang: 'js' } } } }], cursor: {} }),
      expect: 'refused',
    },
    {
      name: '$accumulator in $group',
      run: agg([{ $group: { _id: null, x: { $accumulator: { init: 'function() { return [] }', accumulate: 'function(s, e) { return s.concat([e]) }', accumulateArgs: ['$diagnosis'], merge: 'function(a, b) { return a.concat(b) }', lang: 'js' } } } }]),
      congo: '$accumulator',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $group: { _id: null, x: { $accumulator: { init: 'function() { return [] }', accumulate: 'function(s, e) { return s }', accumulateArgs: ['$diagnosis'], merge: 'function(a, b) { return a }', lang: 'js' } } } }], cursor: {} }),
      expect: 'refused',
    },
    {
      name: '$where throwing the value',
      run: (c) => c.find({ $where: 'throw new Error(this.ssn)' }).toArray(),
      congo: '$where with a string body',
      forwarded: (coll) => ({ find: coll, filter: { $where: 'throw new Error(this.ssn)' } }),
      expect: 'refused',
    },
    {
      name: 'mapReduce emitting the value',
      run: (_c, db, coll) => db.command({ mapReduce: coll, map: 'function() { emit(this.ssn, 1) }', reduce: 'function(k, v) { return 1 }', out: { inline: 1 } }),
      congo: 'mapReduce',
      forwarded: (coll) => ({ mapReduce: coll, map: 'function() { emit(this.ssn, 1) }', reduce: 'function(k, v) { return 1 }', out: { inline: 1 } }),
      expect: 'refused',
    },
  ],
  '$merge / $out (refused for masked roles)': [
    {
      name: '$out of renamed values, then read back',
      fresh: true,
      run: async (c, db, coll) => {
        await c.aggregate([{ $project: { note: '$diagnosis', num: '$ssn' } }, { $out: `${coll}_out` }]).toArray();
        return db.collection(`${coll}_out`).find({}).toArray();
      },
      congo: "$out (mingo's needs a collection resolver)",
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $project: { note: '$diagnosis' } }, { $out: `${coll}_out` }], cursor: {} }),
      expect: 'refused',
    },
    {
      name: '$merge into another collection, then read back',
      fresh: true,
      run: async (c, db, coll) => {
        await c.aggregate([{ $project: { note: '$diagnosis' } }, { $merge: { into: `${coll}_merge` } }]).toArray();
        return db.collection(`${coll}_merge`).find({}).toArray();
      },
      congo: '$merge',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $project: { note: '$diagnosis' } }, { $merge: { into: `${coll}_merge`, whenMatched: 'replace' } }], cursor: {} }),
      expect: 'refused',
    },
  ],
  'server state and metadata that hold values': [
    {
      name: 'find on system.profile (other operations, with their values)',
      congo: 'the profiler',
      forwarded: () => ({ find: 'system.profile', filter: {} }),
      expect: 'refused',
    },
    {
      name: '$currentOp (other sessions, with their commands)',
      congo: '$currentOp',
      forwarded: () => ({ aggregate: 1, pipeline: [{ $currentOp: { allUsers: true } }, { $project: { command: 1 } }], cursor: {} }),
      expect: 'refused',
    },
    {
      name: "$meta 'indexKey' of a document",
      congo: '$meta',
      forwarded: (coll) => ({ find: coll, filter: {}, projection: { k: { $meta: 'indexKey' } }, hint: { ssn: 1 } }),
      expect: 'refused',
    },
    {
      name: '$searchMeta facets and $$SEARCH_META',
      congo: 'Atlas Search',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $search: { text: { query: 'x', path: 'diagnosis' } } }, { $project: { m: '$$SEARCH_META' } }], cursor: {} }),
      expect: 'refused',
    },
    {
      name: 'a change stream: the full documents of the events',
      congo: 'change streams',
      forwarded: (coll) => ({ aggregate: coll, pipeline: [{ $changeStream: { fullDocument: 'updateLookup' } }, { $project: { fullDocument: 1, documentKey: 1, d: '$fullDocument.diagnosis' } }], cursor: {} }),
      expect: 'answered',
      would: (people, coll) => ({ docs: people.map((p) => ({ _id: { _data: '8263' }, fullDocument: p, documentKey: { _id: p._id }, d: p.diagnosis, ns: { db: 'app', coll } })) }),
    },
  ],
  'find projections, distinct, sort': [
    {
      name: 'findAndModify with an expression projection (fields)',
      congo: 'expression projections',
      forwarded: (coll) => ({ findAndModify: coll, query: { k: 1 }, update: { $set: { seen: true } }, fields: { x: '$ssn', y: { $toLower: '$full_name' } }, new: true }),
      expect: 'answered',
      would: (people) => ({ reply: { lastErrorObject: { n: 1, updatedExisting: true }, value: { _id: people[0]!._id, x: people[0]!.ssn, y: String(people[0]!.full_name).toLowerCase() }, ok: 1 } }),
    },
    {
      name: 'find expression projection renaming',
      run: (c) => c.find({}, { projection: { x: '$diagnosis', y: '$ssn' } }).toArray(),
      congo: 'expression projections (it returns whole documents)',
      forwarded: (coll) => ({ find: coll, filter: {}, projection: { x: '$diagnosis', y: '$ssn' } }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ _id: p._id, x: p.diagnosis, y: p.ssn })) }),
    },
    {
      name: 'find projection $toUpper of the e-mail',
      run: (c) => c.find({}, { projection: { x: { $toUpper: '$email' } } }).toArray(),
      congo: 'expression projections',
      forwarded: (coll) => ({ find: coll, filter: {}, projection: { x: { $toUpper: '$email' } } }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ _id: p._id, x: String(p.email).toUpperCase() })) }),
    },
    {
      name: 'find projection $slice and $elemMatch',
      run: (c) => c.find({}, { projection: { visits: { $elemMatch: { room: { $gt: 0 } } }, tags: { $slice: 1 }, medication: 1 } }).toArray(),
      congo: 'projection operators (it returns whole documents)',
      forwarded: (coll) => ({ find: coll, filter: {}, projection: { visits: { $elemMatch: { room: { $gt: 0 } } }, tags: { $slice: 1 }, medication: 1 } }),
      expect: 'answered',
      would: (people) => ({ docs: people.map((p) => ({ _id: p._id, visits: (p.visits as Document[]).slice(0, 1), tags: (p.tags as string[]).slice(0, 1), medication: p.medication })) }),
    },
    { name: 'find with a plain projection of the classified fields', run: (c) => c.find({}, { projection: { diagnosis: 1, ssn: 1, 'contact.email': 1 } }).toArray() },
    { name: 'distinct of diagnosis', run: (c) => c.distinct('diagnosis') },
    { name: 'distinct of a nested and an array path', run: async (c) => [await c.distinct('contact.email'), await c.distinct('visits.diagnosis')] },
    { name: 'sort by ssn, limit 1, projection of ssn', run: (c) => c.find({}, { sort: { ssn: 1 }, limit: 1, projection: { ssn: 1 } }).toArray() },
  ],
  'laundering writes': [
    {
      // The trace cache keys a classic update without its written values: the same operators and fields with other
      // values share a trace, but a $rename's source and target stay part of the key.
      name: 'a harmless update shape cached first, then the same operators renaming diagnosis, then find',
      fresh: true,
      run: async (c) => {
        await c.updateMany({}, { $set: { note: 'v1' }, $rename: { remark0: 'remark1' } });
        await c.updateMany({}, { $set: { note: 'v2' }, $rename: { remark0: 'remark1' } });
        await c.updateMany({}, { $set: { note: 'v3' }, $rename: { diagnosis: 'remark1' } });
        return c.find({}).toArray();
      },
    },
    {
      name: '$rename of diagnosis to an unclassified name, then find',
      fresh: true,
      run: async (c) => {
        await c.updateMany({}, { $rename: { diagnosis: 'remark', ssn: 'ref' } });
        return c.find({}).toArray();
      },
    },
    {
      name: 'findOneAndUpdate $rename returning the new document',
      fresh: true,
      run: (c) => c.findOneAndUpdate({ k: 2 }, { $rename: { medication: 'remark' } }, { returnDocument: 'after' }),
    },
    {
      name: 'update pipeline copying diagnosis into a new field',
      fresh: true,
      run: async (c) => {
        await c.updateMany({}, [{ $set: { remark: '$diagnosis' } }]);
        return c.find({}).toArray();
      },
      congo: 'update pipelines',
      forwarded: (coll) => ({ update: coll, updates: [{ q: {}, u: [{ $set: { remark: '$diagnosis' } }], multi: true }] }),
      expect: 'refused',
    },
    {
      name: 'findAndModify with an update pipeline building a string from the ssn',
      fresh: true,
      run: (c) => c.findOneAndUpdate({ k: 1 }, [{ $set: { code: { $concat: ['X', '$ssn'] } } }], { returnDocument: 'after' }),
      congo: 'update pipelines',
      forwarded: (coll) => ({ findAndModify: coll, query: { k: 1 }, update: [{ $set: { code: { $concat: ['X', '$ssn'] } } }], new: true }),
      expect: 'refused',
    },
  ],
};

// ------------------------------------------------------------------------------------------------ the run

interface Outcome {
  family: string;
  name: string;
  direct: string;
  dgf: string;
  leaks: string[];
}

function describeReceived(r: Received, leaks: string[]): string {
  if (leaks.length > 0) return `LEAK (${leaks.length})`;
  if (isRefusal(r)) return 'refused (13)';
  if (r.error) return `error ${String(r.error.code ?? '')} ${String(r.error.codeName ?? '')}`.trim();
  return 'no clear value';
}

describe('leak-proof: bypass attempts of a masked role (MongoDB, CongoDB upstream)', () => {
  let m: MongoDgf;
  let analyst: MongoClient;
  let admin: MongoClient;
  let upstream: MongoClient;
  let policy: CompiledPolicy;
  let people: Document[];
  let secrets: Secrets;
  const coll = uniqueName('leak');
  const made = new Set<string>([coll]);
  const outcomes: Outcome[] = [];
  let freshN = 0;

  before(async () => {
    m = await startMongoDgf();
    upstream = direct();
    await upstream.connect();
    await seedPeople(upstream.db('app'), coll);
    people = await upstream.db('app').collection(coll).find({}).sort({ k: 1 }).toArray();
    assert.equal(people.length, PEOPLE.length);
    secrets = secretsOf(people);
    analyst = new MongoClient(m.url('analyst'));
    admin = new MongoClient(m.url('admin'));
    await Promise.all([analyst.connect(), admin.connect()]);
    policy = (await PolicyStore.load({ hashKey: TEST_HASH_KEY })).current();
  });

  after(async () => {
    const names = (await upstream.db('app').listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    for (const n of names) if ([...made].some((x) => n.startsWith(x))) await upstream.db('app').collection(n).drop().catch(() => undefined);
    await Promise.all([analyst?.close(), admin?.close(), upstream?.close()]);
    await m?.stop();
    if (outcomes.length > 0) {
      const lines = outcomes.map((o) => `${o.family.padEnd(52)} | ${o.name.slice(0, 70).padEnd(70)} | direct: ${o.direct.padEnd(16)} | dgf: ${o.dgf}`);
      process.stdout.write(`\n# MongoDB leak-proof outcomes (${outcomes.length} attempts)\n${lines.map((l) => `# ${l}`).join('\n')}\n`);
    }
  });

  /** The collection an attempt runs on: the shared one, or a fresh copy for a write. */
  async function collectionFor(a: Attempt): Promise<string> {
    if (!a.fresh) return coll;
    const name = `${coll}_f${++freshN}`;
    made.add(name);
    await seedPeople(upstream.db('app'), name);
    return name;
  }

  /** Replace the `$$COLL` placeholder of a pipeline with the collection's name. */
  function bind(run: Run): Run {
    return (c, db, name) => {
      const patch = (v: unknown): unknown => {
        if (v === '$$COLL') return name;
        if (Array.isArray(v)) return v.map(patch);
        if (v && typeof v === 'object' && !(v instanceof Date) && (v as { _bsontype?: unknown })._bsontype === undefined) {
          return Object.fromEntries(Object.entries(v as Document).map(([k, x]) => [k, patch(x)]));
        }
        return v;
      };
      const proxy = new Proxy(c, {
        get(target, prop, receiver) {
          if (prop === 'aggregate') return (p: Document[], o?: Document) => target.aggregate(patch(p) as Document[], o);
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
      return run(proxy, db, name);
    };
  }

  /** The tracer's decision on the command dgf would forward, and MongoDB's answer masked and scrubbed as dgf would. */
  async function tracerCheck(a: Attempt): Promise<string[]> {
    const problems: string[] = [];
    const cmd = a.forwarded!(coll);
    const info = describeCommand(cmd, 'app');
    const verdict = await import('../../../protocols/mongodb/lineage/verdict.js').catch(() => null);
    if (!verdict) return ['tracer: protocols/mongodb/lineage/verdict.ts is missing (no tracer decision to test)'];
    const refusal = verdict.refusalFor(info, policy, 'analyst');
    if (a.expect === 'refused') {
      if (refusal === null) problems.push('tracer: expected a refusal (code 13), the command would be forwarded');
      return problems;
    }
    if (refusal !== null) return problems; // refused: nothing comes back
    const answer = a.would!(people, coll);
    const documented = 'docs' in answer ? { cursor: { id: Long.fromNumber(0), ns: `app.${coll}`, firstBatch: answer.docs }, ok: 1 } : answer.reply;
    if (findLeaks(documented, secrets).length === 0) problems.push("tracer: MongoDB's documented answer used here shows nothing clear: it proves nothing");
    let reply: Uint8Array = serialize(documented);
    // As the session does: error replies, write errors and explain output scrubbed; documents masked by the planner.
    const scrub = await import('../../../protocols/mongodb/error-scrub.js').catch(() => null);
    if (!scrub) return ['tracer: protocols/mongodb/error-scrub.ts is missing (no reply scrubbing to test)'];
    const isError = documented.ok === 0;
    if (isError || info.trace?.explain || documented.writeErrors !== undefined) {
      reply = scrub.scrubReply(reply, { policy, role: 'analyst', command: cmd }) ?? reply;
    } else {
      const planner = new ShapePlanner(() => policy, policy, 'analyst', `app.${coll}`, info.trace?.result ?? null);
      planner.refresh(undefined);
      reply = (documented.value !== undefined ? maskValueReply(reply, planner) : maskCursorReply(reply, planner)) ?? reply;
    }
    const leaks = findLeaks(deserialize(reply), secrets);
    for (const l of leaks) problems.push(`as dgf would mask MongoDB's answer: ${l}`);
    return problems;
  }

  async function runFamily(t: TestContext, family: string, attempts: Attempt[]): Promise<void> {
    const failures: string[] = [];
    for (const a of attempts) {
      const problems: string[] = [];
      let directShown = 'not run';
      let viaShown = 'not run';
      if (a.run) {
        const run = bind(a.run);
        const dColl = await collectionFor(a);
        const d = await receive(() => run(upstream.db('app').collection(dColl), upstream.db('app'), dColl));
        const dValue = a.decode ? a.decode(d.value) : d.value;
        const dLeaks = findLeaks([dValue, d.error], secrets);
        directShown = describeReceived(d, dLeaks);
        if (!a.congo && dLeaks.length === 0) problems.push(`shows nothing clear directly either (${directShown}): the attempt proves nothing`);
        const aColl = await collectionFor(a);
        const v = await receive(() => run(analyst.db('app').collection(aColl), analyst.db('app'), aColl));
        const vValue = a.decode ? a.decode(v.value) : v.value;
        const vLeaks = findLeaks([vValue, v.error], secrets);
        viaShown = describeReceived(v, vLeaks);
        for (const l of vLeaks) problems.push(`through dgf: ${l}`);
        if (isRefusal(v) && !/dgf|not allowed|cannot/i.test(String(v.error?.message ?? ''))) problems.push(`refused without naming why: ${String(v.error?.message)}`);
      }
      if (a.forwarded) {
        const p = await tracerCheck(a);
        problems.push(...p);
        if (!a.run) viaShown = p.length === 0 ? (a.expect === 'refused' ? 'tracer: refused' : 'tracer: masked') : 'tracer: LEAK';
      }
      outcomes.push({ family, name: a.name, direct: directShown, dgf: viaShown, leaks: problems });
      t.diagnostic(`${a.name}: direct ${directShown}; dgf ${viaShown}${a.congo ? ` (CongoDB lacks: ${a.congo})` : ''}`);
      if (problems.length > 0) failures.push(`${a.name}:\n      ${problems.join('\n      ')}`);
    }
    assert.equal(failures.length, 0, `${failures.length} of ${attempts.length} attempts failed:\n  ${failures.join('\n  ')}`);
  }

  test('there are at least 40 attempts, in every family the issue names', () => {
    const n = Object.values(FAMILIES).reduce((s, l) => s + l.length, 0);
    assert.ok(n >= 40, `${n} attempts`);
  });

  for (const [family, attempts] of Object.entries(FAMILIES)) {
    test(family, { timeout: 120_000 }, async (t) => runFamily(t, family, attempts));
  }

  test('a role without masks (admin) still gets the clear values through the same pipelines', async () => {
    const c = admin.db('app').collection(coll);
    const [r] = await c.aggregate([{ $match: { k: 1 } }, { $project: { x: { $getField: 'diagnosis' }, y: { $concat: ['$email', ''] } } }]).toArray();
    assert.equal(r!.x, PEOPLE[0]!.diagnosis);
    assert.equal(r!.y, PEOPLE[0]!.email);
    const o = await c.aggregate([{ $match: { k: 1 } }, { $project: { x: { $objectToArray: '$$ROOT' } } }]).toArray();
    assert.ok(JSON.stringify(o).includes(String(PEOPLE[0]!.ssn)));
  });

  test('refusals are audited as denied, with the reason and no value', async () => {
    const before = Date.now();
    await assert.rejects(analyst.db('app').collection(coll).aggregate([{ $project: { x: { $objectToArray: '$$ROOT' } } }]).toArray(), { code: 13 });
    const { readAudit } = await import('../../helpers/dgf.js');
    const recs = (await readAudit(m.dgf.auditFile)).filter((r) => r.role === 'analyst' && Date.parse(String(r.ts)) >= before - 1000);
    const denied = recs.find((r) => r.decision === 'deny' && /objectToArray/.test(String(r.error)));
    assert.ok(denied, 'a denied record naming $objectToArray');
    assert.doesNotMatch(JSON.stringify(recs), /123-45-6789|adaline\.lovelace/);
  });
});
