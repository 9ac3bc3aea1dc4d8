// jest runs the TypeScript sources through ts-jest as CommonJS; the type check itself is
// `npm run build:lib`, so here ts-jest only transpiles (fast, and no second opinion on types).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
