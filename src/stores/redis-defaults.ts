/** Defaults of the Redis notes store, shared by its options and the environment schema. */
export const DEFAULT_REDIS_KEY_PREFIX = 'routeguide:';
export const DEFAULT_REDIS_NOTES_TTL_SECONDS = 86_400;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2000;
export const DEFAULT_REDIS_RECONNECT_MAX_DELAY_MS = 2000;
