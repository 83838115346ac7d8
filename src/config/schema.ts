/**
 * JSON Schema of dgf.yaml (SPEC "Configuration"). Unknown keys are rejected everywhere, so a typo is an
 * error with its line instead of a silently ignored option. Defaults live in defaults.ts.
 */

const str = { type: 'string', minLength: 1 } as const;
const port = { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:]*):\\d{1,5}$' } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;

export const PROTOCOLS = ['postgres', 'mongodb', 'redis', 'cosmos', 'blob'] as const;
export const QUOTA_PRESET_NAMES = ['supabase-free', 'atlas-m0', 'redis-cloud-free', 'cosmos-free', 'blob-free'] as const;

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'protocol', 'upstream'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    protocol: { enum: PROTOCOLS },
    listen: port,
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: { cert: str, key: str, ca: str },
    },
    users: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: str, password: { type: 'string' }, key: str },
      },
    },
    auth: { enum: ['scram', 'md5', 'password', 'trust'] },
    upstream: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: str,
        endpoint: str,
        key: str,
        account: str,
        maxConnections: positiveInt,
        ca: str,
        insecureSkipVerify: { type: 'boolean' },
        connectTimeoutMs: positiveInt,
        replyTimeoutMs: { type: 'integer', minimum: 0 },
      },
    },
    pool: { enum: ['session', 'transaction'] },
    maxMessageBytes: { type: 'integer', minimum: 1024 },
    poolTimeoutMs: positiveInt,
    authTimeoutMs: positiveInt,
    quota: {
      type: 'object',
      additionalProperties: false,
      properties: {
        preset: { enum: QUOTA_PRESET_NAMES },
        onExceed: { enum: ['reject', 'warn'] },
        limits: {
          type: 'object',
          additionalProperties: false,
          properties: {
            storageBytes: { type: 'number', minimum: 0 },
            connections: positiveInt,
            memoryBytes: { type: 'number', minimum: 0 },
            requestUnitsPerSecond: { type: 'number', exclusiveMinimum: 0 },
            transactionsPerMonth: positiveInt,
          },
        },
      },
    },
    options: { type: 'object' },
  },
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: { listen: port, token: { type: 'string' }, hosts: { type: 'array', items: { type: 'string' } } },
    },
    policies: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: str,
        packs: { type: 'array', items: { enum: ['default', 'gdpr', 'hipaa', 'sox', 'iso27001'] } },
        hashKey: { type: 'string', minLength: 16 },
        watch: { type: 'boolean' },
      },
    },
    roles: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match', 'role'],
        properties: {
          match: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { user: str, application: str, address: str, listener: str },
          },
          role: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
        },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      properties: {
        failMode: { enum: ['closed', 'open'] },
        durability: { enum: ['write', 'fsync'] },
        chainKey: { type: 'string', minLength: 16 },
        sinks: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['type'],
            properties: {
              type: { enum: ['file', 'stdout'] },
              path: str,
              fsyncMs: { type: 'integer', minimum: 0, maximum: 10000 },
              rotateBytes: { type: 'integer', minimum: 4096 },
            },
          },
        },
      },
    },
    listeners: { type: 'array', items: listener },
    stateDir: str,
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
  },
} as const;
