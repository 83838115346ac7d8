import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { YamlSource } from '../../../src/config/yaml-source.js';
import type { BeginOptions } from '../../../src/governance/operation.js';
import type { ListenerGovernance } from '../../../src/governance/listener-governance.js';
import { compilePolicySources, type CompiledPolicy } from '../../../src/policy/index.js';
import { DecisionCache } from '../../../protocols/redis/decision-cache.js';
import { classificationName } from '../../../protocols/redis/reply-masking.js';

const CLASSIFIERS = ['classifiers:', '  - label: pii.email', '    names: ["email", "*_email"]'];
const AUDIT_RULE = ['rules:', '  - id: audit-pii', '    match: { labels: ["pii.*"] }', '    require: [audit]'];

function compile(lines: string[]): CompiledPolicy {
  return compilePolicySources([YamlSource.parse(lines.join('\n') + '\n', 'policies/t.yaml')]);
}

/** A governance stub that decides with `policy` and counts how often the policy was asked. */
function governance(initial: CompiledPolicy): { gov: ListenerGovernance; asked: () => number; swap: (p: CompiledPolicy) => void } {
  let policy = initial;
  let asked = 0;
  const stub = {
    name: 'cache',
    protocol: 'redis',
    audit: { failMode: 'open', append: () => Promise.resolve() },
    policy: () => policy,
    begin(options: BeginOptions) {
      asked++;
      const decision = policy.decide({ listener: 'cache', protocol: 'redis', ...options, objects: options.objects ?? [] });
      return { decision, options };
    },
    beginDecided(options: BeginOptions, decision: unknown) {
      return { decision, options };
    },
  };
  return {
    gov: stub as unknown as ListenerGovernance,
    asked: () => asked,
    swap: (p) => {
      policy = p;
    },
  };
}

function get(cache: DecisionCache, key: string): { action: string; rules: readonly string[] } {
  const shape = classificationName(key);
  const options: BeginOptions = { identity: { user: 'analyst' }, role: 'analyst', operation: 'get', kind: 'read', objects: [key], statement: `GET ${key}` };
  return cache.decide(options, [shape]);
}

describe('redis decision cache', () => {
  test('keys that differ only in id segments share the decision the policy took for the first', () => {
    const { gov, asked } = governance(compile([...CLASSIFIERS, ...AUDIT_RULE]));
    const cache = new DecisionCache(gov);
    assert.deepEqual(get(cache, 'user:1:email').rules, ['audit-pii']);
    assert.deepEqual(get(cache, 'user:000000012345:email').rules, ['audit-pii']);
    assert.deepEqual(get(cache, 'user:77:email').rules, ['audit-pii']);
    assert.equal(asked(), 1);
    // Another shape is decided by the policy.
    assert.deepEqual(get(cache, 'user:1:name').rules, []);
    assert.equal(asked(), 2);
  });

  test('a rule on key patterns makes exact key names the cache key', () => {
    const deny = ['  - id: deny-42', '    match: { objects: ["user:42:*"] }', '    action: deny', '    message: no'];
    const { gov, asked } = governance(compile([...CLASSIFIERS, ...AUDIT_RULE, ...deny]));
    const cache = new DecisionCache(gov);
    assert.equal(get(cache, 'user:43:email').action, 'allow');
    assert.equal(get(cache, 'user:42:email').action, 'deny');
    assert.equal(get(cache, 'user:43:email').action, 'allow');
    assert.equal(asked(), 2);
  });

  test('a name glob that can tell ids apart makes exact key names the cache key', () => {
    const idGlob = ['  - label: pii.ssn', '    names: ["*1"]'];
    const { gov, asked } = governance(compile([...CLASSIFIERS, ...idGlob, ...AUDIT_RULE]));
    const cache = new DecisionCache(gov);
    assert.deepEqual(get(cache, 'user:1').rules, ['audit-pii']);
    assert.deepEqual(get(cache, 'user:2').rules, []);
    assert.equal(asked(), 2);
  });

  test('a policy reload empties the cache', () => {
    const { gov, asked, swap } = governance(compile([...CLASSIFIERS, ...AUDIT_RULE]));
    const cache = new DecisionCache(gov);
    assert.equal(get(cache, 'user:1:email').action, 'allow');
    swap(compile([...CLASSIFIERS, 'rules:', '  - id: deny-pii', '    match: { labels: ["pii.*"] }', '    action: deny', '    message: no']));
    assert.equal(get(cache, 'user:2:email').action, 'deny');
    assert.equal(asked(), 2);
  });

  test('consecutive lookups reuse the last decision only for the same role, operation and key shapes', () => {
    const denyIntern = ['  - id: deny-intern', '    match: { role: [intern], operation: [get] }', '    action: deny', '    message: no'];
    const { gov, asked } = governance(compile([...CLASSIFIERS, ...AUDIT_RULE, ...denyIntern]));
    const cache = new DecisionCache(gov);
    const ask = (role: string, operation: string, key: string): string =>
      cache.decide({ identity: { user: role }, role, operation, kind: 'read', objects: [key], statement: `${operation} ${key}` }, [classificationName(key)]).action;
    const sequence = [
      ['analyst', 'get', 'user:1:email', 'allow'],
      ['intern', 'get', 'user:2:email', 'deny'],
      ['intern', 'get', 'user:3:email', 'deny'],
      ['analyst', 'get', 'user:4:email', 'allow'],
      ['intern', 'strlen', 'user:5:email', 'allow'],
      ['intern', 'get', 'user:6:email', 'deny'],
      ['analyst', 'get', 'user:7:name', 'allow'],
    ];
    for (const [role, operation, key, action] of sequence) assert.equal(ask(role!, operation!, key!), action, `${role} ${operation} ${key}`);
    // analyst/get/email, intern/get/email, intern/strlen/email, analyst/get/name: each decided once.
    assert.equal(asked(), 4);
  });
});
