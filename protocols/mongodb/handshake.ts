/**
 * dgf answers `hello`/`isMaster` itself, as a mongos would: one router, no `hosts`, no `setName`, so a
 * driver given only dgf's address (no directConnection) builds a Sharded topology of one mongos and never
 * learns or dials the upstream's members. The wire version range and size limits are the upstream's, so
 * drivers enable what the real cluster supports (sessions, transactions, retryable writes). No
 * `compression` is ever echoed: no compressor is negotiated, so clients never send OP_COMPRESSED.
 * No `topologyVersion` either: drivers poll instead of streaming hellos, which dgf need not hold open.
 */
import type { Document } from 'bson';
import type { UpstreamHello } from './upstream/client.js';

export interface HelloOptions {
  upstream: UpstreamHello;
  connectionId: number;
  /** Answer with the legacy `ismaster: true` field (the client asked `isMaster`). */
  legacy: boolean;
  saslSupportedMechs?: string[];
  speculativeAuthenticate?: Document;
}

export function helloReply(o: HelloOptions): Document {
  const u = o.upstream;
  return {
    ...(o.legacy ? { ismaster: true } : { isWritablePrimary: true }),
    helloOk: true,
    msg: 'isdbgrid',
    maxBsonObjectSize: u.maxBsonObjectSize,
    maxMessageSizeBytes: u.maxMessageSizeBytes,
    maxWriteBatchSize: u.maxWriteBatchSize,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: u.logicalSessionTimeoutMinutes,
    connectionId: o.connectionId,
    minWireVersion: u.minWireVersion,
    maxWireVersion: u.maxWireVersion,
    readOnly: false,
    ...(o.saslSupportedMechs ? { saslSupportedMechs: o.saslSupportedMechs } : {}),
    ...(o.speculativeAuthenticate ? { speculativeAuthenticate: o.speculativeAuthenticate } : {}),
    ok: 1,
  };
}

/** Hello command names (any case the drivers use). */
export function isHello(lower: string): boolean {
  return lower === 'hello' || lower === 'ismaster';
}
