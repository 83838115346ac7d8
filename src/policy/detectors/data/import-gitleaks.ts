/**
 * Regenerates gitleaks-rules.ts (the rules as a data module, so that the build ships them) from gitleaks' published rule set (config/gitleaks.toml, MIT licence):
 *   npx tsx src/policy/detectors/data/import-gitleaks.ts path/to/gitleaks.toml <commit>
 *
 * Keeps the rules whose secret starts with a fixed vendor prefix (`ghp_`, `xoxb-`, `hvs.`, `GR1348941`, ...): those
 * the `api_key` detector can find from a word start with one table lookup. The keyword-assignment rules
 * (`[\w.-]{0,50}?(?:adafruit)...=...`) are left out: they match any 32 characters after a vendor's name and are
 * context rules, not formats. Each kept regex is rewritten from Go RE2 to JavaScript: the leading `\b` and the
 * trailing terminator group are dropped (the detector tests both boundaries itself), an inline `(?i)` becomes
 * case-folded character classes, `[[:alnum:]]` a class, and every unbounded repeat is capped (see CAP) so that one
 * attempt reads a bounded stretch of text. A top-level alternation becomes one entry per branch.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SecretRule } from './secret-rule.js';

/** Longest stretch an unbounded repeat may read past its minimum (gitleaks' own longest bounded repeat is 300). */
const CAP = 256;

interface TomlRule {
  id: string;
  regex: string;
  entropy?: number;
}

/** The `[[rules]]` of a gitleaks.toml: id, regex (''' literal) and entropy; nothing else is needed. */
function parseRules(toml: string): TomlRule[] {
  const out: TomlRule[] = [];
  for (const block of toml.split(/^\[\[rules\]\]\s*$/m).slice(1)) {
    const id = /^id = "([^"]+)"/m.exec(block)?.[1];
    const regex = /^regex = '''(.*)'''$/m.exec(block)?.[1];
    const entropy = /^entropy = ([\d.]+)/m.exec(block)?.[1];
    if (id && regex) out.push(entropy ? { id, regex, entropy: Number(entropy) } : { id, regex });
  }
  return out;
}

/**
 * Call `visit` with each character of the pattern `s` that is not escaped and not inside a character class (the
 * characters that open or close groups and alternatives), with its index; stops when `visit` returns false.
 */
function eachSyntaxChar(s: string, visit: (c: string, i: number) => boolean): void {
  let inClass = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (!visit(c, i)) return;
  }
}

/** Split `s` at top-level `|` (outside groups and classes). */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  eachSyntaxChar(s, (c, i) => {
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
    return true;
  });
  parts.push(s.slice(start));
  return parts;
}

/** Whether `s` is one group `( ... )` around everything. */
function wholeGroup(s: string): boolean {
  if (!s.startsWith('(') || !s.endsWith(')')) return false;
  let depth = 0;
  let whole = true;
  eachSyntaxChar(s, (c, i) => {
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0 && i < s.length - 1) whole = false;
    return whole;
  });
  return whole;
}

const TERMINATORS = [
  "(?:[\\x60'\"\\s;]|\\\\[nr]|$)",
  "(?:[\\x60'\"\\s;]|\\\\[nr]|$|\\b)",
  '(?:[^\\w-]|\\z)',
  '\\b',
  '(?:$|[\\\\\'"\\x60\\s<),])',
];

/** Rules left out: formats dgf has its own detector for (AWS key ids, JWTs), and rules about command lines or files, not values. */
const SKIP = new Set(['aws-access-token', 'jwt', 'jwt-base64', 'curl-auth-header', 'curl-auth-user', 'kubernetes-secret-yaml', 'nuget-config-password', 'freemius-secret-key', 'private-key']);

/** Case-fold the letter ranges of the character classes in `s` (the part after an inline `(?i)`). */
function foldClasses(s: string): string {
  return s.replace(/\[([^\]]*)\]/g, (_m, body: string) => {
    let extra = '';
    if (/a-z/.test(body) && !/A-Z/.test(body)) extra += 'A-Z';
    if (/A-Z/.test(body) && !/a-z/.test(body)) extra += 'a-z';
    if (/a-f/.test(body) && !/A-F/.test(body)) extra += 'A-F';
    return body.startsWith('^') ? `[^${extra}${body.slice(1)}]` : `[${extra}${body}]`;
  });
}

/** Cap every unbounded repeat: `{n,}` -> `{n,n+CAP}`, `+` -> `{1,CAP}`, `*` -> `{0,CAP}` (outside classes). */
function capRepeats(s: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      out += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') inClass = true;
    if (c === '+' || c === '*') {
      out += c === '+' ? `{1,${CAP}}` : `{0,${CAP}}`;
      if (s[i + 1] === '?') i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+),\}/.exec(s.slice(i));
      if (m) {
        out += `{${m[1]},${Number(m[1]) + CAP}}`;
        i += m[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** The literal text every match starts with (lower-case), or '' when the branch starts with no literal. */
function literalPrefix(src: string): string {
  let p = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (/[A-Za-z0-9_\-=~]/.test(c)) p += c;
    else if (c === '\\' && /[.\-_/:]/.test(src[i + 1] ?? '')) {
      p += src[i + 1];
      i++;
    } else {
      if (c === '?' || c === '*' || c === '{') p = p.slice(0, -1);
      break;
    }
  }
  return p.toLowerCase();
}

type JsonRule = SecretRule;

/** `src` without the groups that enclose all of it. */
function unwrap(src: string): string {
  for (;;) {
    if (wholeGroup(src) && src.startsWith('(?:')) src = src.slice(3, -1);
    else if (wholeGroup(src) && !src.startsWith('(?')) src = src.slice(1, -1);
    else return src;
  }
}

/** A branch that starts with an alternation of literals, `(?:sk|rk)_...`, as one branch per literal (`sk_...`, `rk_...`). */
function expandLeading(branch: string): string[] {
  const b = branch.startsWith('\\b') ? branch.slice(2) : branch;
  if (!b.startsWith('(?:')) return [unwrap(b)];
  let depth = 0;
  let end = -1;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === '\\') {
      i++;
      continue;
    }
    if (b[i] === '(') depth++;
    else if (b[i] === ')' && --depth === 0) {
      end = i;
      break;
    }
  }
  if (end < 0 || /^[?*{]/.test(b.slice(end + 1))) return [b];
  const alts = splitTop(b.slice(3, end));
  if (alts.some((a) => !/^(?:[A-Za-z0-9_~-]|\\.)+$/.test(a))) return alts.length === 1 ? [b] : alts.filter((a) => /^[A-Za-z0-9]/.test(a)).map((a) => unwrap(a + b.slice(end + 1)));
  return alts.map((a) => a + b.slice(end + 1));
}

function convert(rule: TomlRule): JsonRule[] {
  if (SKIP.has(rule.id)) return [];
  let src = rule.regex;
  let flags = '';
  if (src.startsWith('(?i)')) {
    flags = 'i';
    src = src.slice(4);
  }
  if (src.startsWith('\\b')) src = src.slice(2);
  for (const t of TERMINATORS) if (src.endsWith(t)) src = src.slice(0, -t.length);
  if (src.endsWith('\\b')) src = src.slice(0, -2);
  src = unwrap(src);
  const out: JsonRule[] = [];
  for (let branch of splitTop(src).flatMap(expandLeading)) {
    if (branch.startsWith('\\b')) branch = branch.slice(2);
    for (const t of TERMINATORS) if (branch.endsWith(t)) branch = branch.slice(0, -t.length);
    if (branch.endsWith('\\b')) branch = branch.slice(0, -2);
    if (branch.startsWith('(?:https?://)?')) branch = branch.slice('(?:https?://)?'.length);
    if (wholeGroup(branch) && !branch.startsWith('(?')) branch = branch.slice(1, -1);
    // Inline flags: `(?i)` mid-pattern folds the classes after it; `(?-i:x)` and `(?i:x)` become plain groups.
    const at = branch.indexOf('(?i)');
    if (at >= 0) branch = branch.slice(0, at) + foldClasses(branch.slice(at + 4));
    branch = branch.replace(/\(\?-i:/g, '(?:').replace(/\(\?i:([^)]*)\)/g, (_m, x: string) => `(?:${foldClasses(x)})`);
    branch = branch.replace(/\[\[:alnum:\]\]/g, '[A-Za-z0-9]').replace(/\[:alnum:\]/g, 'A-Za-z0-9');
    branch = capRepeats(branch);
    const prefix = literalPrefix(branch);
    if (prefix.length < 2 || /^\[a-fA-F0-9\]/.test(branch)) continue;
    try {
      new RegExp(branch, `${flags}y`);
    } catch {
      continue;
    }
    const r: JsonRule = { id: rule.id, prefix, regex: branch, flags };
    if (rule.entropy !== undefined) r.entropy = rule.entropy;
    out.push(r);
  }
  return out;
}

const [tomlPath, commit] = process.argv.slice(2);
if (!tomlPath) throw new Error('usage: import-gitleaks.ts path/to/gitleaks.toml <commit>');
const rules = parseRules(readFileSync(tomlPath, 'utf8')).flatMap(convert);
const here = dirname(fileURLToPath(import.meta.url));
const doc = {
  source: 'gitleaks config/gitleaks.toml (https://github.com/gitleaks/gitleaks), MIT License, Copyright (c) 2019 Zachary Rice',
  commit: commit ?? 'unknown',
  generatedBy: 'src/policy/detectors/data/import-gitleaks.ts',
  rules,
};
const header = '/** Generated by import-gitleaks.ts from gitleaks\' rule set: data, do not edit (see README.md beside this file). */\n';
writeFileSync(join(here, 'gitleaks-rules.ts'), `${header}import type { SecretRuleSet } from './secret-rule.js';\n\nconst rules: SecretRuleSet = ${JSON.stringify(doc, null, 1)};\nexport default rules;\n`);
console.log(`${rules.length} rules`);
