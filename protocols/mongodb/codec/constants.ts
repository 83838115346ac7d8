/** MongoDB wire protocol constants (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/). */

/** Message opcodes. */
export const OpCode = {
  OP_REPLY: 1,
  OP_UPDATE: 2001,
  OP_INSERT: 2002,
  OP_QUERY: 2004,
  OP_GET_MORE: 2005,
  OP_DELETE: 2006,
  OP_KILL_CURSORS: 2007,
  OP_COMPRESSED: 2012,
  OP_MSG: 2013,
} as const;

/** OP_MSG flagBits. Bits 0-15 are "required": an unknown one set must be refused; 16-31 are optional. */
export const OpMsgFlag = {
  checksumPresent: 1 << 0,
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16,
} as const;

/** Required bits dgf understands; any other bit in 0-15 is a protocol error (MongoDB does the same). */
export const OP_MSG_KNOWN_REQUIRED_BITS = OpMsgFlag.checksumPresent | OpMsgFlag.moreToCome;

/** OP_MSG section kinds. */
export const SectionKind = {
  body: 0,
  documentSequence: 1,
} as const;

/** The 16-byte standard message header. */
export const HEADER_SIZE = 16;

/** Server error codes dgf answers with (src/mongo/base/error_codes.yml). */
export const ErrorCode = {
  InternalError: 1,
  BadValue: 2,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  AuthenticationFailed: 18,
  IllegalOperation: 20,
  CommandNotFound: 59,
  InvalidBSON: 22,
  ProtocolError: 17,
  NoSuchTransaction: 251,
  CursorNotFound: 43,
  HostUnreachable: 6,
  MechanismUnavailable: 334,
  BSONObjectTooLarge: 10334,
  AtlasError: 8000,
} as const;

/** The code names drivers expect next to the numeric codes above. */
export const ErrorCodeName: Record<number, string> = {
  1: 'InternalError',
  2: 'BadValue',
  6: 'HostUnreachable',
  9: 'FailedToParse',
  13: 'Unauthorized',
  14: 'TypeMismatch',
  17: 'ProtocolError',
  18: 'AuthenticationFailed',
  20: 'IllegalOperation',
  22: 'InvalidBSON',
  43: 'CursorNotFound',
  59: 'CommandNotFound',
  251: 'NoSuchTransaction',
  334: 'MechanismUnavailable',
  8000: 'AtlasError',
  10334: 'BSONObjectTooLarge',
};
