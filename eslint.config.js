// Flat config: typescript-eslint's recommended rules over the sources and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.certrotate/**', 'test/**/__snapshots__/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The machines are pure: no SDK, file system, network or process access (DESIGN §3).
    files: ['src/machines/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'http', 'https', 'net', 'child_process', 'os'],
              message: 'src/machines is pure: no I/O modules.',
            },
            {
              group: [
                '@azure/*',
                '@microsoft/*',
                'fastify',
                'pino*',
                '../adapters/*/**',
                '../runs/**',
                '../sandbox/**',
              ],
              message: 'src/machines is pure: reach adapters only through ports.',
            },
          ],
        },
      ],
    },
  },
);
