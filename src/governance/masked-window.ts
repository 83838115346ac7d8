/**
 * The window of a masked value (issue 16, item 5): a read of part of a classified value (a byte or character
 * range, a bit, a length, a common subsequence with another value) is computed from the value the role sees
 * whole (the label's own mask, the derived mask or the value detectors' masking), never from the clear value.
 * A window cut from the clear value and masked afterwards is not safe: `GETRANGE email 1 100` masked as an e-mail
 * shows the second letter first, so windows at successive offsets rebuild what the mask hid; a window cut from the
 * masked value shows nothing the whole masked value does not.
 *
 * Protocol-neutral: a protocol hands the whole value and the plan it reads it under (`fieldPlan`, `labelPlan` or
 * `derivedPlan`), gets the masked whole, and applies its own index rules to it (`byteWindow`, `charWindow`).
 */
import { REDACTED } from '../policy/mask/index.js';
import type { FieldPlan, MaskStats } from '../policy/types.js';

/**
 * The whole value as `plan` shows it: the same string (===) when the plan changes nothing. A mask that answers
 * NULL (method `null`, the derived mask of a non-text type) gives the empty string: a window of nothing is nothing.
 */
export function maskedWhole(value: string, plan: FieldPlan, stats?: MaskStats): string {
  if (plan.mode === 'clear') {
    // eslint-disable-next-line prefer-spread -- FieldPlan.apply is the policy's method, not Function#apply
    plan.apply(null, stats);
    return value;
  }
  const out = plan.apply(value, stats);
  if (out === value) return value;
  if (out === null || out === undefined) return '';
  return typeof out === 'string' ? out : REDACTED;
}

/** Bytes `[start, end)` of a masked value, clamped to its length (empty when the range is empty). */
export function byteWindow(masked: Uint8Array, start: number, end: number): Uint8Array {
  const s = Math.max(0, Math.min(start, masked.length));
  const e = Math.max(s, Math.min(end, masked.length));
  return masked.subarray(s, e);
}

/** Characters (code points) `[start, start + length)` of a masked value, clamped; length < 0 means to the end. */
export function charWindow(masked: string, start: number, length = -1): string {
  const chars = Array.from(masked);
  const s = Math.max(0, Math.min(start, chars.length));
  const e = length < 0 ? chars.length : Math.max(s, Math.min(s + length, chars.length));
  return chars.slice(s, e).join('');
}
