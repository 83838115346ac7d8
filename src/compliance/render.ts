/** Renders a compliance report as JSON, Markdown or a standalone HTML page. */
import type { Report } from './report.js';
import { SEVERITIES } from './rules.js';

export type ReportFormat = 'json' | 'md' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'md', 'html'];

const TITLES: Record<string, string> = { gdpr: 'GDPR', hipaa: 'HIPAA', sox: 'SOX', iso27001: 'ISO/IEC 27001' };

interface Table {
  head: string[];
  rows: (string | number | null)[][];
}

function tables(r: Report): { title: string; table: Table }[] {
  return [
    {
      title: 'Rules',
      table: { head: ['Rule', 'Severity', 'Name', 'Status', 'Violations'], rows: r.rules.map((x) => [x.id, x.severity, x.name, x.status, x.count]) },
    },
    {
      title: 'Violations',
      table: {
        head: ['Rule', 'Severity', 'Count', 'First', 'Last', 'Example'],
        rows: SEVERITIES.flatMap((s) =>
          r.violations[s].map((f) => {
            const e = f.examples[0];
            return [f.rule_id, f.severity, f.count, f.first_ts, f.last_ts, e ? `seq ${e.seq} ${e.user ?? '(no user)'}/${e.role} ${e.operation} ${e.object ?? ''}: ${e.reason}` : ''];
          }),
        ),
      },
    },
    {
      title: 'Data touched by label',
      table: {
        head: ['Label', 'Operations', 'Masked operations', 'Clear reads', 'Masked values', 'Rows'],
        rows: r.data_touched.map((d) => [d.label, d.operations, d.masked_operations, d.clear_operations, d.masked_values, d.rows]),
      },
    },
    {
      title: 'Who touched it',
      table: {
        head: ['User', 'Role', 'Operations', 'Denials', 'Errors', 'Labels'],
        rows: r.who.map((w) => [w.user ?? '(no user)', w.role, w.operations, w.denials, w.errors, Object.entries(w.labels).map(([l, n]) => `${l} (${n})`).join(', ')]),
      },
    },
    {
      title: 'Denials by rule',
      table: { head: ['Rule', 'Denials'], rows: Object.entries(r.denials.by_rule).map(([k, n]) => [k, n]) },
    },
  ];
}

function mdCell(x: string | number | null): string {
  return String(x ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function renderMd(r: Report): string {
  const out: string[] = [];
  out.push(`# ${TITLES[r.framework] ?? r.framework} compliance report`, '');
  out.push(`- Score: **${r.score}** (${r.status.replace('_', '-')})`);
  out.push(`- Period: ${r.period.since ?? 'start'} to ${r.period.until ?? 'now'} (records from ${r.period.first_record ?? '-'} to ${r.period.last_record ?? '-'})`);
  out.push(`- Records: ${r.source.records_in_period} in period, ${r.source.records_read} read, ${r.source.bad_lines} bad line(s)`);
  out.push(`- Violations: ${r.total_violations}; denials: ${r.denials.total}; errors: ${r.errors}`);
  out.push(`- Generated: ${r.generated_at}`, '');
  for (const { title, table } of tables(r)) {
    out.push(`## ${title}`, '');
    if (table.rows.length === 0) {
      out.push('_none_', '');
      continue;
    }
    out.push(`| ${table.head.join(' | ')} |`, `|${table.head.map(() => ' --- ').join('|')}|`);
    for (const row of table.rows) out.push(`| ${row.map(mdCell).join(' | ')} |`);
    out.push('');
  }
  if (r.source.problems.length) {
    out.push('## Unreadable lines', '');
    for (const p of r.source.problems) out.push(`- ${p.file}:${p.line}: ${p.reason}`);
    out.push('');
  }
  return out.join('\n');
}

function esc(x: string | number | null): string {
  return String(x ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderHtml(r: Report): string {
  const title = `${TITLES[r.framework] ?? r.framework} compliance report`;
  const parts: string[] = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:1.5rem}' +
      'th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;font-size:.9rem}th{background:#f3f3f3}' +
      '.score{font-size:2rem;font-weight:bold}.fail{color:#b00020}.pass{color:#1b7f3b}</style></head><body>',
    `<h1>${esc(title)}</h1>`,
    `<p class="score ${r.status === 'compliant' ? 'pass' : 'fail'}">${esc(r.score)} / 100 (${esc(r.status.replace('_', '-'))})</p>`,
    `<p>Period ${esc(r.period.since ?? 'start')} to ${esc(r.period.until ?? 'now')}; ${esc(r.source.records_in_period)} records in period ` +
      `(${esc(r.source.records_read)} read, ${esc(r.source.bad_lines)} bad lines); ${esc(r.total_violations)} violations, ` +
      `${esc(r.denials.total)} denials, ${esc(r.errors)} errors. Generated ${esc(r.generated_at)}.</p>`,
  ];
  for (const { title: t, table } of tables(r)) {
    parts.push(`<h2>${esc(t)}</h2>`);
    if (table.rows.length === 0) {
      parts.push('<p><em>none</em></p>');
      continue;
    }
    parts.push('<table><thead><tr>' + table.head.map((h) => `<th>${esc(h)}</th>`).join('') + '</tr></thead><tbody>');
    for (const row of table.rows) parts.push('<tr>' + row.map((c) => `<td>${esc(c)}</td>`).join('') + '</tr>');
    parts.push('</tbody></table>');
  }
  parts.push('</body></html>\n');
  return parts.join('\n');
}

/** Render a report; JSON is the exact object (the admin endpoint's body). */
export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'md':
      return renderMd(report);
    case 'html':
      return renderHtml(report);
  }
}
