import path from 'node:path';

/** The feature file shipped with the service (data/ beside src/ and dist/). */
export const BUNDLED_FEATURES_FILE = path.resolve(
  __dirname,
  '..',
  '..',
  'data',
  'route_guide_db.json',
);
