import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameMatcher, normalizeName, normalizeSegment } from '../../../src/policy/index.js';

test('normalisation: case, snake, camel, kebab', () => {
  for (const n of ['firstName', 'FIRST_NAME', 'first-name', 'First Name', 'first_name', 'FirstName', '__first__name__']) {
    assert.equal(normalizeSegment(n), 'first_name', n);
  }
  assert.equal(normalizeSegment('HTTPServerURL'), 'http_server_url');
  assert.equal(normalizeSegment('address2'), 'address2');
  assert.equal(normalizeName('contact.workEmail'), 'contact.work_email');
  assert.equal(normalizeName('user:42:email'), 'user.42.email');
});

function matcher(): NameMatcher {
  const m = new NameMatcher(['pii.email', 'pii.first_name', 'pii.address', 'pii.contact_email']);
  m.add('email', 0);
  m.add('*_email', 0);
  m.add('first_name', 1);
  m.add('address', 2);
  m.add('contact.email', 3);
  return m;
}

test('globs match case-, snake- and camel-insensitively', () => {
  const m = matcher();
  for (const n of ['firstName', 'FIRST_NAME', 'first-name', 'FirstName']) assert.deepEqual(m.match(n), ['pii.first_name'], n);
  for (const n of ['workEmail', 'WORK_EMAIL', 'work-email', 'Email', 'EMAIL']) assert.deepEqual(m.match(n), ['pii.email'], n);
  assert.deepEqual(m.match('emailer'), []);
  assert.deepEqual(m.match('notes'), []);
});

test('dotted paths match per segment and as a whole', () => {
  const m = matcher();
  assert.deepEqual(m.match('contact.email'), ['pii.email', 'pii.contact_email']);
  assert.deepEqual(m.match('contact.workEmail'), ['pii.email']);
  assert.deepEqual(m.match('address.city'), ['pii.address']);
  assert.deepEqual(m.match('orders.0.total'), []);
});

test('keys match per ":"-separated part', () => {
  const m = matcher();
  assert.deepEqual(m.match('user:42:email'), ['pii.email']);
  assert.deepEqual(m.match('session:abc'), []);
});

test('results are cached per name and the cache stays bounded', () => {
  const m = matcher();
  const first = m.match('workEmail');
  assert.equal(m.match('workEmail'), first);
  for (let i = 0; i < 60_000; i++) m.match(`col_${i}`);
  assert.deepEqual(m.match('workEmail'), ['pii.email']);
});
