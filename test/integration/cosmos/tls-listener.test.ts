/**
 * dgf's Cosmos listener over HTTPS (TLS on both legs): the SDK connects with TLS, the account document
 * advertises https://, and the audit record says both legs were encrypted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { readAudit, startDgf, type TestDgf } from '../../helpers/dgf.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');

describe('cosmos: HTTPS listener', () => {
  let dgf: TestDgf;
  let dir: string;
  let client: CosmosClient;
  let agent: https.Agent;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-cosmos-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    dgf = await startDgf({
      roles: [{ match: { user: 'clin' }, role: 'clinician' }],
      listeners: [
        {
          name: 'cosmos',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
          upstream: { endpoint: 'https://127.0.0.1:8081', key: key('real'), insecureSkipVerify: true },
          users: [{ name: 'clin', key: key('clin') }],
        },
      ],
    });
    agent = new https.Agent({ ca: execFileSync('cat', [path.join(dir, 'cert.pem')]) });
    client = new CosmosClient({ endpoint: `https://127.0.0.1:${dgf.listener('cosmos').address.port}`, key: key('clin'), agent });
  });

  after(async () => {
    await client?.database('dgf-tls').delete().catch(() => undefined);
    agent?.destroy();
    await dgf?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the SDK works over TLS, discovery points at https://dgf, audit records tls: true', async () => {
    const account = await client.getDatabaseAccount();
    assert.equal(account.resource!.writableLocations[0]!.databaseAccountEndpoint, `https://127.0.0.1:${dgf.listener('cosmos').address.port}/`);
    const { database } = await client.databases.createIfNotExists({ id: 'dgf-tls' });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/pk'] } });
    await container.items.upsert({ id: 'a', pk: 'p', diagnosis: 'flu' });
    assert.equal((await container.item('a', 'p').read()).resource?.diagnosis, 'flu');
    const audit = await readAudit(dgf.auditFile);
    const read = audit.find((r) => r.operation === 'read');
    assert.equal((read?.extra as Record<string, unknown>).tls, true);
  });
});
