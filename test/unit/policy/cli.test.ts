import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { policyCheck, policyExplain } from '../../../src/cli/commands/policy.js';

function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let buf = '';
  out.on('data', (c: Buffer) => (buf += c.toString()));
  return { out, text: () => buf };
}

test('policy check: shipped packs ok (exit 0); bad file exit 1 naming file and line of each error', async () => {
  const ok = sink();
  assert.equal(await policyCheck([], ok.out), 0);
  const dir = await mkdtemp(join(tmpdir(), 'dgf-cli-'));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'classifiers:\n  - label: pii.x\n    values: card\nmasks:\n  - labels: [pii.x]\n    method: scramble\n');
  const bad = sink();
  assert.equal(await policyCheck([file], bad.out), 1);
  assert.match(bad.text(), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: classifiers\\[0\\]\\.values: unknown detector "card"`));
  assert.match(bad.text(), /bad\.yaml:6: masks\[0\]\.method: unknown mask method "scramble"/);
  assert.match(bad.text(), /2 errors/);
});

test('policy explain --role analyst --name notes --value "card 4111 1111 1111 1111 ok"', async () => {
  const s = sink();
  assert.equal(await policyExplain({ role: 'analyst', name: 'notes', value: 'card 4111 1111 1111 1111 ok' }, s.out), 0);
  const text = s.text();
  assert.match(text, /labels: +financial\.card/);
  assert.match(text, /financial\.card \(payment_card\) at \[5, 24\) -> last4/);
  assert.match(text, /masked: +card \*\*\*\* \*\*\*\* \*\*\*\* 1111 ok/);
});
