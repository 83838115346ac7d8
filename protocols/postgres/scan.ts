/** `dgf scan` for Postgres: user tables and columns from the catalog, plus a sample of rows per table. */
import pg from 'pg';
import type { ListenerScanner } from '../../src/listener.js';
import { ScanAccumulator } from '../../src/governance/scan-accumulator.js';

export const scan: ListenerScanner = async (config, policy, sample) => {
  const client = new pg.Client({ connectionString: config.upstream.url, application_name: 'dgf-scan' });
  await client.connect();
  try {
    const acc = new ScanAccumulator(policy);
    const { rows: columns } = await client.query<{ schema: string; table: string; column: string }>(
      `select table_schema as schema, table_name as table, column_name as column
         from information_schema.columns
        where table_schema not in ('pg_catalog', 'information_schema') and table_schema not like 'pg_toast%'
        order by table_schema, table_name, ordinal_position`,
    );
    const tables = new Map<string, { schema: string; table: string }>();
    for (const c of columns) {
      acc.field(`${c.schema}.${c.table}`, c.column);
      tables.set(`${c.schema}.${c.table}`, { schema: c.schema, table: c.table });
    }
    for (const [object, t] of tables) {
      const ident = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.table)}`;
      // Sampling reads data: text casts keep the driver from parsing types we only classify.
      const { rows } = await client.query({ text: `select * from ${ident} limit $1`, values: [sample], rowMode: 'array' });
      const names = columns.filter((c) => c.schema === t.schema && c.table === t.table).map((c) => c.column);
      for (const row of rows as unknown[][]) row.forEach((v, i) => acc.value(object, names[i] ?? `column${i + 1}`, v));
    }
    return acc.rows();
  } finally {
    await client.end();
  }
};
