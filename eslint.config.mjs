import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.lab/**', 'bench/reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['src/cli/**', 'src/lab/**', 'scripts/**', 'bench/**', 'test/**'], rules: { 'no-console': 'off' } },
  // Layering (DESIGN.md §3): sip/ knows nothing of the PBX; media/ never imports sip/.
  { files: ['src/sip/**'], rules: { 'no-restricted-imports': ['error', { patterns: ['**/pbx/**', '**/media/**', '**/node/**', '**/cluster/**', '**/admin/**', '**/lab/**', '**/store/**'] }] } },
  { files: ['src/media/**'], rules: { 'no-restricted-imports': ['error', { patterns: ['**/sip/**', '**/pbx/**', '**/node/**', '**/cluster/**'] }] } },
);
