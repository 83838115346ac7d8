import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { YamlSource } from '../../../src/config/yaml-source.js';
import { MaskTally, PolicyStore, REDACTED, UNTRACED_LABEL, compilePolicySources, detokenize } from '../../../src/policy/index.js';
import { maskDerivedValue, maskEchoedValue, masksAnyOf, scrubText, textScanPlan } from '../../../src/governance/scrub-text.js';

const HASH_KEY = 'scrub-text-test-key';
const policy = (await PolicyStore.load({ hashKey: HASH_KEY })).current();

describe('scrubText: the value detectors on free text', () => {
  test('an e-mail, a card and an SSN inside a message are masked with their labels\' masks for analyst', () => {
    const tally = new MaskTally();
    const out = scrubText('mail alice@example.com, card 4111 1111 1111 1111, ssn 078-05-1120', policy, 'analyst', tally);
    assert.equal(out, 'mail a***@example.com, card **** **** **** 1111, ssn ***-**-1120');
    assert.deepEqual(tally.maskedCounts(), { 'pii.email': 1, 'financial.card': 1, 'pii.ssn': 1 });
  });

  test('the same string (===) when nothing is found, and for a role that sees every detected label', () => {
    const clean = 'relation "customers" does not exist';
    assert.equal(scrubText(clean, policy, 'analyst'), clean);
    const dirty = 'mail alice@example.com';
    assert.equal(scrubText(dirty, policy, 'admin'), dirty);
    assert.equal(textScanPlan(policy, 'admin'), null, 'admin has no detector to run');
  });

  test('only the labels the role may not see: dpo sees personal data, not cards', () => {
    const out = scrubText('alice@example.com paid with 4111111111111111', policy, 'dpo');
    assert.equal(out, 'alice@example.com paid with ************1111');
  });

  test('an entity that is the whole text is masked as a whole', () => {
    assert.equal(scrubText('alice@example.com', policy, 'analyst'), 'a***@example.com');
  });
});

describe('maskEchoedValue: a value known to come from a classified source', () => {
  test('each label\'s own mask for a role that may not see it', () => {
    assert.equal(maskEchoedValue('alice@example.com', ['pii.email'], policy, 'analyst'), 'a***@example.com');
    assert.equal(maskEchoedValue('123-45-6789', ['pii.ssn'], policy, 'analyst'), '***-**-6789');
    assert.equal(maskEchoedValue('Ada Lovelace', ['pii.full_name'], policy, 'analyst'), 'A** ********');
    assert.equal(maskEchoedValue('asthma', ['phi.diagnosis'], policy, 'analyst'), REDACTED);
  });

  test('the strongest mask wins when the value may come from several sources', () => {
    const tally = new MaskTally();
    assert.equal(maskEchoedValue('Ada Lovelace', ['pii.email', 'phi.diagnosis', 'pii.full_name'], policy, 'analyst', tally), REDACTED);
    assert.deepEqual(tally.maskedCounts(), { 'phi.diagnosis': 1 });
    assert.deepEqual(tally.seenLabels().sort(), ['phi.diagnosis', 'pii.email', 'pii.full_name']);
  });

  test('unchanged (===) for a role that sees every label, or with no label; labels still counted as seen', () => {
    const v = 'alice@example.com';
    const tally = new MaskTally();
    assert.equal(maskEchoedValue(v, ['pii.email', 'phi.diagnosis'], policy, 'admin', tally), v);
    assert.deepEqual(tally.maskedCounts(), {});
    assert.deepEqual(tally.seenLabels().sort(), ['phi.diagnosis', 'pii.email']);
    assert.equal(maskEchoedValue(v, [], policy, 'analyst'), v);
    // dpo sees pii.*, not phi.*: the diagnosis mask applies
    assert.equal(maskEchoedValue(v, ['pii.email'], policy, 'dpo'), v);
    assert.equal(maskEchoedValue(v, ['pii.email', 'phi.diagnosis'], policy, 'dpo'), REDACTED);
  });

  test('not by the detectors: a value with no recognisable shape is masked all the same', () => {
    // "Ada" has no detector; an e-mail mask on a value that is not an address still hides it.
    assert.equal(maskEchoedValue('Ada', ['pii.full_name'], policy, 'analyst'), 'A**');
    assert.equal(maskEchoedValue('Ada', ['pii.email'], policy, 'analyst'), 'A**');
  });

  test('a tokenized value is the engine\'s token (reversible with the key), masked once', () => {
    const token = maskEchoedValue('P-000123', ['phi.patient_id'], policy, 'analyst');
    assert.notEqual(token, 'P-000123');
    assert.equal(detokenize(token, 'text', HASH_KEY), 'P-000123');
  });

  test('a mask that cannot give a string (null) redacts', () => {
    const nullPolicy = compilePolicySources([
      YamlSource.parse(['classifiers:', '  - label: pii.secret_word', '    names: [secret_word]', 'masks:', '  - labels: ["pii.secret_word"]', '    method: "null"', '    except: [admin]', ''].join('\n'), 'null.yaml'),
    ]);
    const tally = new MaskTally();
    assert.equal(maskEchoedValue('swordfish', ['pii.secret_word'], nullPolicy, 'analyst', tally), REDACTED);
    assert.deepEqual(tally.maskedCounts(), { 'pii.secret_word': 1 });
    assert.equal(maskEchoedValue('swordfish', ['pii.secret_word'], nullPolicy, 'admin'), 'swordfish');
  });

  test('the untraced label: the derived mask for every role that has a masked label', () => {
    assert.equal(maskEchoedValue('Ada', [UNTRACED_LABEL], policy, 'analyst'), REDACTED);
    assert.equal(maskEchoedValue('Ada', [UNTRACED_LABEL], policy, 'dpo'), REDACTED);
    assert.equal(maskEchoedValue('Ada', [UNTRACED_LABEL], policy, 'admin'), 'Ada');
  });

  test('masksAnyOf: whether the role may not see at least one label', () => {
    assert.equal(masksAnyOf(['pii.email'], policy, 'analyst'), true);
    assert.equal(masksAnyOf(['pii.email'], policy, 'dpo'), false);
    assert.equal(masksAnyOf([UNTRACED_LABEL], policy, 'dpo'), true);
    assert.equal(masksAnyOf([UNTRACED_LABEL], policy, 'admin'), false);
    assert.equal(masksAnyOf(['pii.email'], policy, 'admin'), false);
    assert.equal(masksAnyOf(['pii.email', 'phi.diagnosis'], policy, 'dpo'), true);
    assert.equal(masksAnyOf([], policy, 'analyst'), false);
  });
});

describe('maskDerivedValue: a value computed from classified sources', () => {
  test('redacted whole when the role may not see one of the sources: no format-preserving mask of a derived value', () => {
    // reverse(ssn): a last-4 would show the first four digits of the SSN
    const tally = new MaskTally();
    assert.equal(maskDerivedValue('9876-54-321', ['pii.ssn'], policy, 'analyst', tally), REDACTED);
    assert.deepEqual(tally.maskedCounts(), { 'pii.ssn': 1 });
    assert.equal(maskDerivedValue('alice@example.com', ['pii.email', 'phi.diagnosis'], policy, 'dpo'), REDACTED);
  });

  test('unchanged (===) when the role sees every source, or with none; the detectors are not run here', () => {
    const v = 'alice@example.com';
    const tally = new MaskTally();
    assert.equal(maskDerivedValue(v, ['pii.email'], policy, 'dpo', tally), v);
    assert.deepEqual(tally.seenLabels(), ['pii.email']);
    assert.equal(maskDerivedValue(v, ['pii.email'], policy, 'admin'), v);
    assert.equal(maskDerivedValue(v, [], policy, 'analyst'), v);
  });
});
