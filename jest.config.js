/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Only Node is needed here. Long-running suites (jest.stress.config.js, npm run test:stress)
  // and suites that need system programs (jest.system.config.js, npm run test:system) have
  // their own configs.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/stress/', '<rootDir>/test/system/'],
  // Transpile only (isolatedModules): `npm test` type-checks everything first (pretest:
  // tsc --noEmit), so ts-jest need not type-check each file again (about a third less CPU).
  // jose ships ESM only: Node's require(esm) loads it in the built server, but Jest's module
  // system cannot, so its files are transpiled to CommonJS like ours.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '/node_modules/jose/.+\\.js$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest-esm.json' }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // kdbush ships ESM (Node requires it natively); Jest's module system takes its UMD build.
  moduleNameMapper: { '^kdbush$': '<rootDir>/node_modules/kdbush/kdbush.js' },
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
