/** RESP2/RESP3 type bytes (https://github.com/redis/redis-specifications/blob/master/protocol/RESP3.md). */
export const RespType = {
  SimpleString: 0x2b, // +
  SimpleError: 0x2d, // -
  Integer: 0x3a, // :
  BulkString: 0x24, // $
  Array: 0x2a, // *
  Null: 0x5f, // _
  Boolean: 0x23, // #
  Double: 0x2c, // ,
  BigNumber: 0x28, // (
  BulkError: 0x21, // !
  VerbatimString: 0x3d, // =
  Map: 0x25, // %
  Set: 0x7e, // ~
  Attribute: 0x7c, // |
  Push: 0x3e, // >
} as const;

export type RespTypeByte = (typeof RespType)[keyof typeof RespType];

export const CR = 13;
export const LF = 10;

/** Whether a frame starting with this type byte can contain a string that may carry a value. */
export function mayCarryStrings(type: number): boolean {
  return (
    type === RespType.BulkString ||
    type === RespType.Array ||
    type === RespType.Map ||
    type === RespType.Set ||
    type === RespType.Push ||
    type === RespType.VerbatimString ||
    type === RespType.Attribute
  );
}
