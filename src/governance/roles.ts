/** Maps an identity to a role through config `roles`: first match wins; no match gives role "default". */
import type { RoleMapping } from '../config/types.js';
import type { Identity } from '../policy/types.js';
import { globMatch } from '../glob.js';

export const DEFAULT_ROLE = 'default';

export class RoleResolver {
  constructor(private readonly mappings: readonly RoleMapping[]) {}

  resolve(identity: Identity, listener?: string): string {
    for (const { match, role } of this.mappings) {
      if (match.user !== undefined && !globMatch(match.user, identity.user ?? '')) continue;
      if (match.application !== undefined && !globMatch(match.application, identity.application ?? '')) continue;
      if (match.address !== undefined && !globMatch(match.address, identity.address ?? '')) continue;
      if (match.listener !== undefined && !globMatch(match.listener, listener ?? '')) continue;
      return role;
    }
    return DEFAULT_ROLE;
  }
}

/** What `clientChosenExemptions` needs of a listener. */
export interface ListenerIdentitySource {
  name: string;
  protocol: string;
  auth?: string | undefined;
  users: readonly unknown[];
}

/** What `clientChosenExemptions` needs of the policy set (the validated defs). */
export interface ExemptionPolicy {
  masks: ReadonlyArray<{ labels: readonly string[]; except: readonly string[]; roles: readonly string[] | null }>;
  rules: ReadonlyArray<{ id: string; action: 'deny' | 'allow' | null; match: { role: readonly string[] | null }; except: readonly string[] }>;
}

/** A role mapping through which a client can pick, by what it asserts without proof, a role with exemptions. */
export interface ClientChosenExemption {
  /** Index in config `roles`. */
  index: number;
  role: string;
  /** The asserted attribute and where each listener takes it from. */
  attribute: 'application' | 'user';
  sources: string[];
  /** What the role escapes that the fallback role "default" gets: mask labels, and rule ids. */
  unmasked: string[];
  rules: string[];
}

/** Where `identity.application` comes from, per protocol: always set by the client, never proven. */
const APPLICATION_SOURCE: Record<string, string> = {
  postgres: 'the application_name startup parameter',
  mongodb: 'the hello client metadata (appName)',
  redis: 'CLIENT SETNAME / HELLO SETNAME',
  cosmos: 'the User-Agent header',
  blob: 'the User-Agent header',
};

/**
 * Role mappings that grant exemptions on the client's word (for `dgf policy check`): a mapping that matches on
 * `application` (application_name, Mongo appName, Redis client name, HTTP User-Agent: all chosen by the client),
 * or on `user` on a listener without authentication (`auth: trust`), and that leads to a role exempt from a mask
 * or a deny rule that applies to the fallback role "default", or allowed by an allow rule that "default" is not.
 * `address` and `listener` are not the client's to choose and are not reported.
 */
export function clientChosenExemptions(
  mappings: readonly RoleMapping[],
  listeners: readonly ListenerIdentitySource[],
  policy: ExemptionPolicy,
): ClientChosenExemption[] {
  const out: ClientChosenExemption[] = [];
  const masked = (role: string, m: ExemptionPolicy['masks'][number]): boolean => (m.roles === null || m.roles.includes(role)) && !m.except.includes(role);
  const ruled = (role: string, r: ExemptionPolicy['rules'][number]): boolean => (r.match.role === null || r.match.role.includes(role)) && !r.except.includes(role);
  mappings.forEach((mapping, index) => {
    const { match, role } = mapping;
    const unmasked = new Set<string>();
    for (const m of policy.masks) if (masked(DEFAULT_ROLE, m) && !masked(role, m)) for (const l of m.labels) unmasked.add(l);
    const rules = new Set<string>();
    for (const r of policy.rules) {
      if (r.action === 'deny' && ruled(DEFAULT_ROLE, r) && !ruled(role, r)) rules.add(r.id);
      if (r.action === 'allow' && ruled(role, r) && !ruled(DEFAULT_ROLE, r)) rules.add(r.id);
    }
    if (unmasked.size === 0 && rules.size === 0) return;
    const reached = listeners.filter((l) => match.listener === undefined || globMatch(match.listener, l.name));
    const report = (attribute: 'application' | 'user', sources: string[]): void => {
      if (sources.length > 0) out.push({ index, role, attribute, sources, unmasked: [...unmasked], rules: [...rules] });
    };
    if (match.application !== undefined) {
      report('application', reached.map((l) => `${l.name}: ${APPLICATION_SOURCE[l.protocol] ?? 'a client-supplied name'}`));
    } else if (match.user !== undefined) {
      const trusting = reached.filter((l) => l.auth === 'trust' || (l.auth === undefined && l.users.length === 0 && l.protocol !== 'cosmos' && l.protocol !== 'blob'));
      report('user', trusting.map((l) => `${l.name}: the user name, unauthenticated (auth: trust)`));
    }
  });
  return out;
}
