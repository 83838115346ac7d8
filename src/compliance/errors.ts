/** A bad compliance request: answered with HTTP `status` (400) and `message`, or exit code 2 on the CLI. */
export class ValidationError extends Error {
  readonly code = 'VALIDATION_ERROR';
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}
