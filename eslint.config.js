// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // src/generated: types written by `npm run gen:proto` from proto/testudo.proto, never edited by hand.
  // bench/oss/*.cjs: a CommonJS helper copied into mathjs's test tree (its tests require() it), not part of Testudo.
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.testudo/**', 'examples/**', 'src/generated/**', 'bench/oss/*.cjs', 'eslint.config.js', 'vitest.config.ts'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The dashboard page (src/dashboard/static): browser JavaScript served as is, outside the TypeScript project.
    files: ['src/dashboard/static/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, program: null },
      globals: Object.fromEntries(
        ['document', 'window', 'location', 'sessionStorage', 'fetch', 'alert', 'requestAnimationFrame', 'setTimeout', 'clearTimeout', 'setInterval', 'AbortController', 'TextDecoderStream', 'ReadableStream', 'URL', 'Node', 'Blob'].map((name) => [name, 'readonly']),
      ),
    },
  },
);
