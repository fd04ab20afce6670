// Test-only: preloaded into a server process with `node --require test/helpers/cpu-burner.js`
// to make it a slow replica. Every ROUTEGUIDE_TEST_BURN_PERIOD_MS (default 20) it keeps the
// main thread busy for ROUTEGUIDE_TEST_BURN_PERCENT (default 80) percent of the period, as a
// replica sharing its CPU with a noisy neighbour inside the same process would: calls wait for
// the loop and the process's CPU use goes up. Never loaded by the service itself.
'use strict';

const { performance } = require('node:perf_hooks');
const { setInterval } = require('node:timers');

const percent = Number(process.env.ROUTEGUIDE_TEST_BURN_PERCENT ?? '80');
const periodMs = Number(process.env.ROUTEGUIDE_TEST_BURN_PERIOD_MS ?? '20');
const burnMs = (periodMs * percent) / 100;

const timer = setInterval(() => {
  const end = performance.now() + burnMs;
  while (performance.now() < end) {
    // busy
  }
}, periodMs);
timer.unref();
