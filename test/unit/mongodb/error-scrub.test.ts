/**
 * Error and explain scrubbing (protocols/mongodb/error-scrub.ts) on the reply shapes MongoDB documents: values it
 * quotes are masked for a masked role, names and what the client sent itself stay, codes and labels are untouched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize, type Document } from 'bson';
import { MaskTally, PolicyStore, REDACTED, type CompiledPolicy } from '../../../src/policy/index.js';
import { errmsgOf, scrubReply } from '../../../protocols/mongodb/error-scrub.js';

const policy: CompiledPolicy = (await PolicyStore.load({ hashKey: 'mongo-scrub-test' })).current();

function scrub(reply: Document, command: Document = {}, role = 'analyst'): Document {
  const out = scrubReply(serialize(reply), { policy, role, command });
  return out === null ? reply : deserialize(out);
}

describe('error scrubbing', () => {
  test('a conversion error: the quoted value gets the derived mask; the operator name stays', () => {
    const r = scrub(
      { ok: 0, code: 241, codeName: 'ConversionFailure', errmsg: "Failed to parse number '123-45-6789' in $convert with no onError value: Did not consume whole string." },
      { aggregate: 'p', pipeline: [{ $project: { x: { $toInt: '$ssn' } } }] },
    );
    assert.equal(r.errmsg, `Failed to parse number '${REDACTED}' in $convert with no onError value: Did not consume whole string.`);
    assert.equal(r.code, 241);
    assert.equal(r.codeName, 'ConversionFailure');
  });

  test("$replaceWith's error: the resulting value and the whole input document are scrubbed", () => {
    const r = scrub({
      ok: 0,
      code: 40228,
      codeName: 'Location40228',
      errmsg: "'replacement document' must evaluate to an object, but resulting value was: \"123-45-6789\". Type of resulting value: 'string'. Input document: {_id: 7, name: \"Ada\", email: \"ada@example.com\", diagnosis: \"Type 2 diabetes\", card: 4111111111111111}",
    });
    const m = String(r.errmsg);
    assert.doesNotMatch(m, /123-45-6789|ada@example\.com|diabetes|4111111111111111/);
    assert.match(m, /Type of resulting value: 'string'/);
    assert.match(m, /^'replacement document' must evaluate/);
    assert.match(m, /name: "\[REDACTED\]"/);
  });

  test('a duplicate key: each value of the detail and of keyValue masked by its field, what the client wrote kept', () => {
    const r = scrub(
      {
        ok: 1,
        n: 0,
        writeErrors: [
          {
            index: 0,
            code: 11000,
            errmsg: 'E11000 duplicate key error collection: app.people index: dept_1_email_1 dup key: { dept: "sales", email: "bart.quist@example.com" }',
            keyPattern: { dept: 1, email: 1 },
            keyValue: { dept: 'sales', email: 'bart.quist@example.com' },
          },
        ],
      },
      { update: 'people', updates: [{ q: { k: 2 }, u: { $set: { dept: 'sales' } } }] },
    );
    const we = (r.writeErrors as Document[])[0]!;
    assert.equal(we.errmsg, 'E11000 duplicate key error collection: app.people index: dept_1_email_1 dup key: { dept: "sales", email: "b***@example.com" }');
    assert.deepEqual(we.keyValue, { dept: 'sales', email: 'b***@example.com' });
    assert.deepEqual(we.keyPattern, { dept: 1, email: 1 });
    assert.equal(we.code, 11000);
  });

  test('document validation: a considered value masked by its property, every other text kept', () => {
    const r = scrub({
      ok: 1,
      n: 0,
      writeErrors: [
        {
          index: 0,
          code: 121,
          errmsg: 'Document failed validation',
          errInfo: {
            failingDocumentId: 7,
            details: {
              operatorName: '$jsonSchema',
              schemaRulesNotSatisfied: [
                {
                  operatorName: 'properties',
                  propertiesNotSatisfied: [
                    { propertyName: 'diagnosis', details: [{ operatorName: 'maxLength', specifiedAs: { maxLength: 10 }, reason: 'specified string length was not satisfied', consideredValue: 'Type 2 diabetes mellitus' }] },
                    { propertyName: 'card_number', details: [{ operatorName: 'pattern', reason: 'regular expression did not match', consideredValue: '4111111111111111' }] },
                    { propertyName: 'age', details: [{ operatorName: 'minimum', consideredValue: 3 }] },
                  ],
                },
              ],
            },
          },
        },
      ],
    });
    const props = (((r.writeErrors as Document[])[0]!.errInfo as Document).details.schemaRulesNotSatisfied[0].propertiesNotSatisfied as Document[]);
    assert.equal(props[0]!.details[0].consideredValue, REDACTED);
    assert.equal(props[0]!.details[0].reason, 'specified string length was not satisfied');
    assert.equal(props[1]!.details[0].consideredValue, '************1111');
    assert.equal(props[2]!.details[0].consideredValue, 3);
  });

  test('names the client sent stay quoted as they are; bare long numbers it did not send are masked', () => {
    const r = scrub(
      { ok: 0, code: 1, errmsg: "Cannot apply $inc to a value of non-numeric type. {_id: 123456} has the field 'ssn' of non-numeric type string; value: 987654321" },
      { update: 'p', updates: [{ q: { k: 1 }, u: { $inc: { ssn: 1 } } }] },
    );
    assert.match(String(r.errmsg), /has the field 'ssn' of non-numeric type string/);
    assert.doesNotMatch(String(r.errmsg), /987654321|123456/);
  });

  test('the value detectors run on every text: an e-mail anywhere in an explain reply is masked', () => {
    const r = scrub({ ok: 1, queryPlanner: { winningPlan: { stage: 'COLLSCAN' } }, note: 'sample ada.lovelace@example.com here' }, { explain: { find: 'p' } });
    assert.equal(r.note, 'sample a***@example.com here');
    assert.equal((r.queryPlanner as Document).winningPlan.stage, 'COLLSCAN');
  });

  test('a reply with nothing to scrub comes back as null (the original bytes are forwarded); stats count what was masked', () => {
    assert.equal(scrubReply(serialize({ ok: 0, code: 2, codeName: 'BadValue', errmsg: 'unknown top level operator: $foo' }), { policy, role: 'analyst', command: { find: 'p', filter: { $foo: 1 } } }), null);
    const tally = new MaskTally();
    scrubReply(serialize({ ok: 0, errmsg: "cannot convert 'ada@example.com' to int" }), { policy, role: 'analyst', command: {}, stats: tally });
    assert.ok(Object.keys(tally.maskedCounts()).length > 0 || tally.seenLabels().length > 0);
  });

  test('errmsgOf reads the scrubbed message for the audit record', () => {
    assert.equal(errmsgOf(serialize({ ok: 0, codeName: 'X', errmsg: 'bad' })), 'X: bad');
    assert.equal(errmsgOf(serialize({ ok: 1, writeErrors: [{ errmsg: 'dup' }] })), 'dup');
  });
});
