import {
  type PdOptions,
  pdOptionsWithDefaults,
  type RunningPd,
  startPd,
} from "../../../pd/src/server/pd-server.ts";
import { testLogLevel } from "./log-level.ts";

/**
 * A pd (embedded backend) in this process on free 127.0.0.1 ports, scheduling every 200 ms so replicas
 * are added quickly.
 */
export function startTestPd(dataDir: string, overrides: Partial<PdOptions> = {}): Promise<RunningPd> {
  return startPd(
    pdOptionsWithDefaults({
      dataDir,
      listenHost: "127.0.0.1",
      clientPort: 0,
      httpPort: 0,
      scheduleIntervalMs: 200,
      logLevel: testLogLevel(),
      ...overrides,
    }),
  );
}
