// Preloaded with `node --require` by tests: when the process exits, writes the paths of every
// module it loaded (require.cache) as a JSON array to the file named by REPORT_MODULES_TO.
const { writeFileSync } = require('node:fs');

const out = process.env.REPORT_MODULES_TO;
if (out) {
  process.on('exit', () => writeFileSync(out, JSON.stringify(Object.keys(require.cache))));
}
