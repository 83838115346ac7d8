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
