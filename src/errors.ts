/** Error classes shared by every part of dgf; each carries a stable `code`. */

/** A configuration or policy file problem, with the file and line it was found at. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_ERROR';
  constructor(
    message: string,
    readonly file: string | null = null,
    readonly line: number | null = null,
    /** Dotted key path, e.g. `listeners[0].pool`. */
    readonly key: string | null = null,
  ) {
    super(ConfigError.format(message, file, line, key));
    this.name = 'ConfigError';
  }

  /** `dgf.yaml:14: listeners[0].pool: must be one of session, transaction` */
  static format(message: string, file: string | null, line: number | null, key: string | null): string {
    const where = file ? `${file}${line ? `:${line}` : ''}: ` : '';
    return `${where}${key ? `${key}: ` : ''}${message}`;
  }
}

/** Several config/policy errors found in one pass, reported together. */
export class ConfigErrors extends Error {
  readonly code = 'CONFIG_ERRORS';
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
  }
}

/** An operation refused by a policy rule. */
export class PolicyDeniedError extends Error {
  readonly code = 'POLICY_DENIED';
  constructor(message: string, readonly ruleId: string) {
    super(message);
    this.name = 'PolicyDeniedError';
  }
}

/** A failure talking to an upstream database. */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(message: string, code = 'UPSTREAM_ERROR', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'UpstreamError';
  }
}

/** A quota refused an operation. */
export class QuotaExceededError extends Error {
  readonly code = 'QUOTA_EXCEEDED';
  constructor(message: string, readonly resource: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}

/** An audit record could not be kept (failMode closed withholds the result). */
export class AuditUnavailableError extends Error {
  readonly code = 'AUDIT_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditUnavailableError';
  }
}
