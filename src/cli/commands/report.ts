/** `dgf report --framework F --audit FILE... [--since T] [--until T] [--format json|md|html]`. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../compliance/errors.js';
import { buildReport, readAuditFiles, type BadLine } from '../../compliance/report.js';
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../../compliance/render.js';
import { normalizeFramework } from '../../compliance/rules.js';
import type { CommandOutput } from './audit.js';

export interface ReportCommandOptions {
  framework: string;
  /** Audit files; a directory stands for its *.jsonl files. */
  audit: string[];
  since?: string;
  until?: string;
  format: ReportFormat;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** ISO-8601 date/time, or a duration back from now: `30m`, `24h`, `7d`, `2w`. */
export function parseTime(s: string, now = Date.now()): Date | null {
  const rel = /^(\d+)([mhdw])$/.exec(s.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]!]!);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s.trim())) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t);
}

async function expand(paths: string[]): Promise<string[] | string> {
  const files: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      return `${p}: no such file`;
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).filter((n) => n.endsWith('.jsonl')).sort();
      if (names.length === 0) return `${p}: no *.jsonl audit files in this directory`;
      files.push(...names.map((n) => join(p, n)));
    } else files.push(p);
  }
  return files;
}

/** Exit 0 with the report on `out`; 2 on a bad framework, date, format or missing file (message on `err`). */
export async function report(opts: ReportCommandOptions, out: CommandOutput, err: CommandOutput): Promise<number> {
  const usage = (msg: string): number => {
    err.write(`dgf report: ${msg}\n`);
    return 2;
  };
  let framework;
  try {
    framework = normalizeFramework(opts.framework);
  } catch (e) {
    if (e instanceof ValidationError) return usage(e.message);
    throw e;
  }
  if (!REPORT_FORMATS.includes(opts.format)) return usage(`unknown format '${opts.format}'; use one of ${REPORT_FORMATS.join(', ')}`);
  const since = opts.since !== undefined ? parseTime(opts.since) : undefined;
  if (since === null) return usage(`invalid --since '${opts.since}': use an ISO-8601 date or time (2026-11-24, 2026-11-24T10:00:00Z) or a duration (24h, 7d)`);
  const until = opts.until !== undefined ? parseTime(opts.until) : undefined;
  if (until === null) return usage(`invalid --until '${opts.until}': use an ISO-8601 date or time (2026-11-24, 2026-11-24T10:00:00Z) or a duration (24h, 7d)`);
  if (since && until && since >= until) return usage('--since must be before --until');
  if (!opts.audit?.length) return usage('no audit file given (--audit FILE...)');
  const files = await expand(opts.audit);
  if (typeof files === 'string') return usage(files);

  const problems: BadLine[] = [];
  const rep = await buildReport(readAuditFiles(files, problems), { framework, since, until, problems, sources: files });
  for (const p of problems.slice(0, 10)) err.write(`warning: ${p.file}:${p.line}: ${p.reason} (line skipped)\n`);
  if (problems.length > 10) err.write(`warning: ${problems.length - 10} more bad line(s) skipped\n`);
  out.write(renderReport(rep, opts.format));
  return 0;
}
