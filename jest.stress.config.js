/** Long-running reliability suites: real processes, millions of messages. `npm run test:stress`. */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/stress'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 300000,
  // One suite at a time: these measure memory and kill processes.
  maxWorkers: 1,
};
