/** Defaults of the notes stores, shared by their options and the environment schema. */
export const DEFAULT_NOTES_MAX_PER_LOCATION = 100;
export const DEFAULT_NOTES_MAX_TOTAL = 100_000;
export const DEFAULT_NOTES_MAX_TOTAL_CHARS = 16 * 1024 * 1024;

export const DEFAULT_REDIS_KEY_PREFIX = 'routeguide:';
export const DEFAULT_REDIS_NOTES_TTL_SECONDS = 86_400;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2000;
