/**
 * System tier (`npm run test:system`): independent peers and system programs from Debian
 * (python3-grpcio, promtool, kubectl, redis-server). Each suite checks for its programs first.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/system'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
};
