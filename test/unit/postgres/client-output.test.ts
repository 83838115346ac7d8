/** ClientOutput: writes after a gate wait for it, gates settle in order, a failed gate is replaced by its error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type net from 'node:net';
import { ClientOutput } from '../../../protocols/postgres/client-output.js';

function sink(): { socket: net.Socket; written: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
    writev(items, cb) {
      for (const it of items) chunks.push(it.chunk as Buffer);
      cb();
    },
  });
  return { socket: w as unknown as net.Socket, written: () => Buffer.concat(chunks).toString() };
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('gated output keeps order and waits for each gate', async () => {
  const { socket, written } = sink();
  const out = new ClientOutput(socket);
  out.write(Buffer.from('a'));
  const g1 = deferred();
  const g2 = deferred();
  out.gate(g1.promise, Buffer.from('C1'), () => Buffer.from('E1'));
  out.write(Buffer.from('b'));
  out.gate(g2.promise, Buffer.from('C2'), () => Buffer.from('E2'));
  out.write(Buffer.from('c'));
  await tick();
  assert.equal(written(), 'a');
  assert.equal(out.held, true);
  g2.resolve();
  await tick();
  assert.equal(written(), 'a', 'a later gate does not overtake an earlier one');
  g1.reject(new Error('audit down'));
  await tick();
  assert.equal(written(), 'aE1bC2c');
  assert.equal(out.held, false);
  out.write(Buffer.from('d'));
  await tick();
  assert.equal(written(), 'aE1bC2cd');
});
