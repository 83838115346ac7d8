/** `ipv4` and `ipv6` addresses inside text; IPv6 candidates are confirmed with node:net. */
import { isIPv6 } from 'node:net';
import { anyMatch, findAll, type Detector } from './types.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?!\\w|\\.\\d)`, 'g');
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g;

function ipv6Ok(m: string): boolean {
  if (!isIPv6(m)) return false;
  let groups = 0;
  for (const part of m.split(':')) if (part.length > 0) groups++;
  return groups >= 2;
}

export const ipv4: Detector = {
  name: 'ipv4',
  description: 'IPv4 address',
  applies: (s) => s.dots >= 3 && s.digits >= 4,
  find: (text, out) => findAll(IPV4, text, out, anyMatch),
};

export const ipv6: Detector = {
  name: 'ipv6',
  description: 'IPv6 address',
  applies: (s) => s.colons >= 2,
  find: (text, out) => findAll(IPV6, text, out, ipv6Ok),
};
