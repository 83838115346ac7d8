/** psql through dgf: multi-statement queries, meta-commands, \copy in and out (text, CSV, binary). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestDgf } from '../../helpers/dgf.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

const run = promisify(execFile);

describe('psql through dgf', () => {
  let dgf: TestDgf;
  let port: number;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-psql-'));
    const d = await direct();
    await d.query('drop table if exists wire_psql; create table wire_psql (id int primary key, label text, qty int)');
    await d.end();
    ({ dgf, port } = await startPgDgf());
  });

  after(async () => {
    await dgf.stop();
    rmSync(dir, { recursive: true, force: true });
    const d = await direct();
    await d.query('drop table if exists wire_psql');
    await d.end();
  });

  const psql = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'admin', '-d', 'postgres', ...args], {
      env: { ...process.env, PGPASSWORD: 'adminpw', PGSSLMODE: 'disable' },
    });
    return stdout;
  };

  test('queries, multi-statement strings and meta-commands', async () => {
    assert.equal((await psql('-At', '-c', 'select 40 + 2')).trim(), '42');
    assert.equal((await psql('-At', '-c', 'select 1; select 2; select 3')).trim(), '1\n2\n3');
    const described = await psql('-c', '\\d wire_psql');
    assert.match(described, /label/);
    assert.match(await psql('-At', '-c', 'show server_version'), /^15\./);
  });

  test('\\copy from and to, text and CSV and binary, round trip', async () => {
    const csv = path.join(dir, 'in.csv');
    writeFileSync(csv, Array.from({ length: 200 }, (_, i) => `${i + 1},"label, ${i + 1}",${i * 3}`).join('\n') + '\n');
    assert.match(await psql('-c', `\\copy wire_psql from '${csv}' with (format csv)`), /COPY 200/);
    const textOut = path.join(dir, 'out.txt');
    await psql('-c', `\\copy (select * from wire_psql order by id) to '${textOut}'`);
    const lines = readFileSync(textOut, 'utf8').trim().split('\n');
    assert.equal(lines.length, 200);
    assert.equal(lines[0], '1\tlabel, 1\t0');
    const csvOut = path.join(dir, 'out.csv');
    await psql('-c', `\\copy wire_psql to '${csvOut}' with (format csv, header)`);
    assert.equal(readFileSync(csvOut, 'utf8').trim().split('\n').length, 201);
    const bin = path.join(dir, 'out.bin');
    await psql('-c', `\\copy wire_psql to '${bin}' with (format binary)`);
    assert.equal(readFileSync(bin).subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\x00');
    await psql('-c', 'truncate wire_psql');
    assert.match(await psql('-c', `\\copy wire_psql from '${bin}' with (format binary)`), /COPY 200/);
    assert.equal((await psql('-At', '-c', 'select count(*), sum(qty) from wire_psql')).trim(), `200|${(199 * 200 * 3) / 2}`);
  });

  test('a failing statement reports the server error and psql exits non-zero', async () => {
    await assert.rejects(psql('-c', 'select * from wire_no_such'), (e: Error & { stderr?: string }) => /does not exist/.test(e.stderr ?? ''));
  });
});
