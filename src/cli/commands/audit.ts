/** `dgf audit verify FILE...`: check the audit hash chain. Exit 0 intact, 1 tampered/truncated, 2 usage error. */
import { verifyAuditFiles } from '../../audit/verify.js';

/** Where a command prints (process.stdout / process.stderr, or a buffer in tests). */
export interface CommandOutput {
  write(s: string): unknown;
}

/**
 * Verify `files` (any order) with the chain `key`. Prints `ok: N records, chain intact (first seq A, last seq B)`
 * on success, or the first broken record (`file:line: seq S: reason`) on failure.
 */
export async function auditVerify(files: string[], opts: { key: string }, out: CommandOutput, err: CommandOutput): Promise<number> {
  if (!opts.key) {
    err.write('dgf audit verify: no chain key (set audit.chainKey or policies.hashKey in the config, or pass --key)\n');
    return 2;
  }
  const res = await verifyAuditFiles(files, opts.key);
  if (res.usageError) {
    err.write(`dgf audit verify: ${res.usageError}\n`);
    return 2;
  }
  for (const note of res.notes) out.write(`note: ${note}\n`);
  if (res.ok) {
    out.write(`ok: ${res.records} records, chain intact (first seq ${res.firstSeq}, last seq ${res.lastSeq})\n`);
    return 0;
  }
  const p = res.problem!;
  err.write(
    `TAMPERED: ${p.file}:${p.line}${p.seq !== null ? `: seq ${p.seq}` : ''}: ${p.reason}\n` +
      `${res.records} record(s) before it verified${res.lastSeq !== null ? ` (seq ${res.firstSeq}..${res.lastSeq})` : ''}\n`,
  );
  return 1;
}
