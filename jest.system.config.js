/**
 * System tier (`npm run test:system`): independent peers and system programs from Debian
 * (python3-grpcio, promtool, kubectl, redis-server, chromium). Each suite checks for its programs in
 * `beforeAll` (requireProgram); globalSetup checks them all first and stops the run with one
 * line per missing program.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/system'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/helpers/system-setup.ts',
  testTimeout: 120000,
};
