import { LOG_LEVELS, type LogLevel } from "#observability";

/** Silent unless TESSERA_TEST_LOG_LEVEL names a level (to debug a failing test that runs servers). */
export function testLogLevel(): LogLevel {
  const level = process.env.TESSERA_TEST_LOG_LEVEL;
  return LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : "silent";
}
