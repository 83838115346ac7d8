/** `email`: RFC 5322-ish addresses (dot-atom local part, domain with a TLD), found inside text. */
import { anyMatch, findAll, type Detector } from './types.js';

const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b/g;

export const email: Detector = {
  name: 'email',
  description: 'e-mail address',
  applies: (s) => s.at > 0 && s.dots > 0,
  find: (text, out) => findAll(EMAIL, text, out, anyMatch),
};
