/**
 * A scripted MongoDB upstream for what CongoDB cannot do (transactions, change streams): a tiny TCP server
 * speaking OP_QUERY/OP_MSG that presents itself as the primary of replica set `rs0` and answers commands
 * from a test-supplied script written from MongoDB's documented replies. Every command it receives is
 * recorded, so tests can check exactly what dgf sent upstream (lsid, txnNumber, startTransaction...).
 */
import net from 'node:net';
import { deserialize, serialize, type Document, ObjectId } from 'bson';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { decodeOpQuery, encodeOpReply } from '../../../protocols/mongodb/codec/op-query.js';

export type Script = (cmd: Document) => Document | undefined;

export interface ScriptedUpstream {
  url: string;
  port: number;
  /** Commands received, in order (hello/heartbeat traffic excluded). */
  commands: Document[];
  close(): Promise<void>;
}

const processId = new ObjectId();

export async function startScriptedUpstream(script: Script): Promise<ScriptedUpstream> {
  const commands: Document[] = [];
  const sockets = new Set<net.Socket>();
  let port = 0;
  const hello = (legacy: boolean): Document => ({
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    helloOk: true,
    setName: 'rs0',
    setVersion: 1,
    hosts: [`127.0.0.1:${port}`],
    primary: `127.0.0.1:${port}`,
    me: `127.0.0.1:${port}`,
    electionId: processId,
    maxBsonObjectSize: 16777216,
    maxMessageSizeBytes: 48000000,
    maxWriteBatchSize: 100000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: 1,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const framer = new MessageFramer(48_000_000);
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk, (frame) => {
        const opCode = frame.readInt32LE(12);
        const requestId = frame.readInt32LE(4);
        if (opCode === 2004) {
          // the driver's legacy handshake: isMaster over OP_QUERY on admin.$cmd
          const q = decodeOpQuery(frame);
          const name = Object.keys(deserialize(q.query))[0] ?? '';
          socket.write(encodeOpReply(serialize(name.toLowerCase() === 'ismaster' || name === 'hello' ? hello(true) : { ok: 0, errmsg: 'OP_QUERY only for the handshake', code: 352 }), requestId));
          return;
        }
        const msg = decodeOpMsg(frame);
        const cmd = deserialize(msg.body, { promoteLongs: false });
        for (const s of msg.sequences) cmd[s.identifier] = s.documents.map((d) => deserialize(d));
        const name = Object.keys(cmd)[0]!.toLowerCase();
        let reply: Document | undefined;
        if (name === 'hello' || name === 'ismaster') reply = hello(name === 'ismaster');
        else {
          commands.push(cmd);
          reply = script(cmd) ?? (name === 'endsessions' || name === 'ping' ? { ok: 1 } : { ok: 0, errmsg: `scripted upstream has no answer for ${name}`, code: 59, codeName: 'CommandNotFound' });
        }
        if (!msg.moreToCome) socket.write(encodeOpMsg(serialize(reply), requestId));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  return {
    url: `mongodb://127.0.0.1:${port}/?replicaSet=rs0`,
    port,
    commands,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
