// jest runs the TypeScript sources through ts-jest as CommonJS; the type check itself is
// `npm run build:lib`, so here ts-jest only transpiles (fast, and no second opinion on types).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.test.ts'],
  // The lab's pure modules are tested here; what needs a browser is tested in ui-tests/.
  testPathIgnorePatterns: ['/node_modules/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
