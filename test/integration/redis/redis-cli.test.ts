import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, direct, startRedisDgf } from './helpers.js';

const run = promisify(execFile);
const NS = `cli-${process.pid}`;

describe('redis-cli through dgf', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;
  const cli = async (user: string, ...args: string[]): Promise<string> => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--user', user, '--pass', PASSWORD, '--no-auth-warning', ...args]);
    return stdout;
  };

  before(async () => {
    ({ dgf, port } = await startRedisDgf());
    up = direct();
    await up.set(`${NS}:user:9:email`, 'erin@example.com');
    await up.hset(`${NS}:acct:9`, 'iban', 'DE89370400440532013000', 'plan', 'pro');
  });

  after(async () => {
    await up.del(`${NS}:user:9:email`, `${NS}:acct:9`, `${NS}:k`);
    up.disconnect();
    await dgf.stop();
  });

  test('RESP commands (RESP2 and -3) are masked and FLUSHALL refused', async () => {
    assert.equal((await cli('analyst', 'GET', `${NS}:user:9:email`)).trim(), 'e***@example.com');
    assert.equal((await cli('analyst', '-3', 'GET', `${NS}:user:9:email`)).trim(), 'e***@example.com');
    assert.equal((await cli('dpo', 'GET', `${NS}:user:9:email`)).trim(), 'erin@example.com');
    const h = (await cli('analyst', 'HGETALL', `${NS}:acct:9`)).trim().split('\n');
    assert.deepEqual(h, ['iban', 'DE****************3000', 'plan', 'pro']);
    assert.match(await cli('analyst', 'FLUSHALL'), /NOPERM/);
    assert.equal(await up.get(`${NS}:user:9:email`), 'erin@example.com');
  });

  test('redis-cli --pipe with inline commands', async () => {
    const child = execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--pipe']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin!.end(`AUTH analyst ${PASSWORD}\r\nSET ${NS}:k "hello world"\r\nGET ${NS}:k\r\n`);
    await new Promise((r) => child.once('close', r));
    assert.match(out, /errors: 0, replies: 3/);
    assert.equal(await up.get(`${NS}:k`), 'hello world');
  });

  test('inline commands as telnet sends them, masked like RESP ones', async () => {
    const raw = await RawClient.connect(port);
    raw.send(`AUTH analyst ${PASSWORD}\r\nGET ${NS}:user:9:email\r\nHGET ${NS}:acct:9 iban\nPING\r\n`);
    const frames = await raw.waitFrames(4);
    raw.close();
    assert.deepEqual(frames, ['OK', 'e***@example.com', 'DE****************3000', 'PONG']);
  });
});
