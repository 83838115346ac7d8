/** JSON Schema of a policy file (SPEC "Policy files"); unknown keys are rejected everywhere. */

const stringOrList = { type: ['string', 'array'], items: { type: 'string' } } as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;

/** Values of the policy setting `onUnknownLineage`. */
export const UNKNOWN_LINEAGE_ACTIONS = ['deny', 'mask'] as const;

/** Policy file schema; semantic checks (detectors, methods, regexes, globs, ids) run after it in compile.ts. */
export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    description: { type: 'string' },
    classifiers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['label'],
        properties: {
          label: { type: 'string' },
          description: { type: 'string' },
          frameworks: stringList,
          names: stringList,
          values: {
            type: ['string', 'object'],
            additionalProperties: false,
            required: ['regex'],
            properties: { regex: { type: 'string' }, flags: { type: 'string' } },
          },
          /**
           * Score (0..1) a finding of the built-in detector named in `values` must reach for this classifier
           * (docs/detectors.md). Default: the detector's own (0.5). Lower finds more (a bare 9-digit run as an
           * SSN at 0.3), higher finds only what context confirms (0.8).
           */
          threshold: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
    },
    masks: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['labels', 'method'],
        properties: {
          labels: stringOrList,
          method: { type: 'string' },
          description: { type: 'string' },
          keep: {
            type: 'object',
            additionalProperties: false,
            properties: { first: { type: 'integer', minimum: 0 }, last: { type: 'integer', minimum: 0 } },
          },
          granularity: { enum: ['month', 'year'] },
          bucket: { type: 'number', exclusiveMinimum: 0 },
          kind: { type: 'string' },
          except: stringList,
          roles: stringList,
        },
      },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: { type: 'string', minLength: 1 },
          name: { type: 'string' },
          description: { type: 'string' },
          framework: { type: 'string' },
          severity: { enum: ['critical', 'high', 'medium', 'low'] },
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              role: stringOrList,
              operation: stringOrList,
              kind: stringOrList,
              objects: stringOrList,
              labels: stringOrList,
              /** Matches when the role has (true) or has not (false) at least one masked label. */
              maskedRole: { type: 'boolean' },
              /** Matches when the operation reads (true) or does not read (false) values the role sees masked. */
              readsMasked: { type: 'boolean' },
            },
          },
          except: stringList,
          action: { enum: ['deny', 'allow'] },
          message: { type: 'string' },
          require: { type: 'array', items: { enum: ['identity', 'audit', 'tls', 'approval'] } },
        },
      },
    },
    /**
     * What to do with an output dgf cannot trace to its sources: `deny | mask` for every role, or a mapping of role
     * (and `default`) to `deny | mask`. The string's values are checked in compile.ts, for a clearer message.
     */
    onUnknownLineage: {
      type: ['string', 'object'],
      additionalProperties: { enum: UNKNOWN_LINEAGE_ACTIONS },
    },
    /**
     * Objects (globs over the protocol's object names, e.g. Blob `container/path`) whose content is declared, so
     * that content dgf cannot parse is not refused for masked roles: `clean` holds nothing classified (served as
     * it is), `binaryOnly` holds binary data only (served as it is while it is binary; text there is still masked).
     */
    content: {
      type: 'object',
      additionalProperties: false,
      properties: { clean: stringList, binaryOnly: stringList },
    },
    /**
     * Server-side scripts a role with masks may run (Redis EVAL/EVALSHA/SCRIPT LOAD), by the SHA1 of their body,
     * with the labels their output may carry: the reply gets the derived mask of those labels. Any other script is
     * refused for a role with masks, since dgf cannot trace what it reads.
     */
    scripts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sha1', 'labels'],
        properties: {
          sha1: { type: 'string', pattern: '^[0-9a-fA-F]{40}$' },
          labels: stringList,
          description: { type: 'string' },
        },
      },
    },
  },
} as const;
