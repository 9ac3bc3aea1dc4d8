// ESLint as JupyterLab's extension template sets it up, for TypeScript; Prettier owns layout.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'lib/',
      'node_modules/',
      '.venv/',
      'notebooks/',
      'jupyterlab_dask_hpc/',
      'ui-tests/',
      'coverage/',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs'
    ]
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      curly: ['error', 'multi-line'],
      eqeqeq: ['error', 'smart'],
      'prefer-arrow-callback': 'error'
    }
  }
);
