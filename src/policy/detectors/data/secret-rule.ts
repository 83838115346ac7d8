/** The shape of the secret rule sets (gitleaks-rules.ts, dgf-rules.ts) the `api_key` detector loads as data. */

/** One credential format: a literal prefix and the regex of the whole token. */
export interface SecretRule {
  /** Rule id (gitleaks' id for imported rules). */
  id: string;
  /** Lower-case literal text every match starts with (at least two characters): the detector's lookup key. */
  prefix: string;
  /** JavaScript regex source of the whole token, run sticky at a word start that begins with `prefix`; every repeat is bounded. */
  regex: string;
  /** Regex flags (`i` or none). */
  flags: string;
  /** Minimum Shannon entropy (bits per character) of the token after its prefix, when the format alone is weak. */
  entropy?: number;
}

/** A rule set and where it comes from. */
export interface SecretRuleSet {
  source: string;
  commit: string;
  generatedBy: string;
  rules: SecretRule[];
}
