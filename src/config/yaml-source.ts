/**
 * YAML parsing that keeps positions, so every config or policy error can name its file and line.
 * Shared by the config loader and the policy loader.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isSeq, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';

/** A parsed YAML file with a way back from a data path to the line it came from. */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly data: unknown,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Parse YAML text; syntax errors become ConfigErrors with file and line. */
  static parse(text: string, file: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0]?.line ?? lines.linePos(err.pos[0]).line;
      throw new ConfigError(err.message.split('\n')[0]!, file, line);
    }
    return new YamlSource(file, doc.toJS({ maxAliasCount: 100 }), doc, lines);
  }

  static async read(file: string): Promise<YamlSource> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
    }
    return YamlSource.parse(text, file);
  }

  /**
   * Line (1-based) of the node at `path` (keys and indexes, e.g. ['listeners', 0, 'pool']); falls back to the
   * nearest existing parent, so a missing key reports the line of the object that lacks it.
   */
  lineOf(path: readonly (string | number)[]): number | null {
    let node: unknown = this.doc.contents;
    let best: number | null = rangeLine(node, this.lines);
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        if (!pair) break;
        const keyLine = rangeLine(pair.key, this.lines);
        if (keyLine !== null) best = keyLine;
        node = pair.value;
        const valueLine = isMap(pair.value) ? null : rangeLine(pair.value, this.lines);
        if (valueLine !== null) best = valueLine;
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
        if (node === undefined) break;
        best = rangeLine(node, this.lines) ?? best;
      } else {
        break;
      }
    }
    return best;
  }

  /** Build a ConfigError for the node at `path`. */
  error(message: string, path: readonly (string | number)[]): ConfigError {
    return new ConfigError(message, this.file, this.lineOf(path), formatPath(path));
  }
}

function rangeLine(node: unknown, lines: LineCounter): number | null {
  const range = (node as Node | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : null;
}

/** ['listeners', 0, 'pool'] -> 'listeners[0].pool' */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out;
}

/** Split an Ajv instancePath ('/listeners/0/pool') into ['listeners', 0, 'pool']. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
