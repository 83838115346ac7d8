// Lint config. Besides the usual checks it enforces the import direction of docs/architecture (STYLE.md):
// src/ never imports a protocol (except the one registry), and a protocol never imports another protocol.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const protocols = ['postgres', 'mongodb', 'redis', 'cosmos', 'blob'];

const perProtocol = protocols.map((name) => ({
  files: [`protocols/${name}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{
        regex: `^(\\.\\./)+(${protocols.filter((p) => p !== name).join('|')})(/|$)`,
        message: 'A protocol never imports another protocol; shared code belongs in protocols/shared or src/.',
      }],
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.run/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/protocol-registry.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '^(\\.\\./)+protocols(/|$)', message: 'src/ knows no protocol: only src/protocol-registry.ts maps protocol names to listeners.' }],
      }],
    },
  },
  ...perProtocol,
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{js,ts}'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
