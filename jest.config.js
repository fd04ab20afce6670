/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Long-running suites and the system tier have their own configs (jest.stress.config.js,
  // npm run test:stress; jest.system.config.js, npm run test:system).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/stress/', '<rootDir>/test/system/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  // kdbush ships ESM (Node requires it natively); Jest's module system takes its UMD build.
  moduleNameMapper: { '^kdbush$': '<rootDir>/node_modules/kdbush/kdbush.js' },
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
