/** Base class for a client's protocol violation: answered in the protocol's own error format, then closed. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    /** Protocol-specific code: a SQLSTATE ('08P01'), a Mongo error code, a RESP error prefix. */
    readonly code: string,
    /** Whether the connection must be closed after the error is sent. */
    readonly fatal = true,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A frame larger than `maxMessageBytes`: a protocol error for that client, never an out-of-memory for all. */
export class MessageTooLargeError extends ProtocolError {
  constructor(size: number, limit: number, code: string) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`, code, true);
    this.name = 'MessageTooLargeError';
  }
}
