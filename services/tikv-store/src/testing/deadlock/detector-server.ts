/**
 * A store's deadlock detector served over real gRPC on 127.0.0.1 and a free port, without the rest of a
 * store: what detector clients under test connect to, and what they lose when the test stops it.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { deadlock } from "#proto";
import { systemClock } from "#runtime";
import { createDeadlockService } from "../../txn/deadlock/deadlock-service.ts";
import type { DetectorLocation } from "../../txn/deadlock/detect-stream.ts";
import { DeadlockDetector } from "../../txn/deadlock/detector.ts";
import type { WaitForGraphOptions } from "../../txn/deadlock/wait-for-graph.ts";
import { silentLogger } from "../silent-observability.ts";

export class DetectorServer {
  private stopped = false;

  private constructor(
    private readonly server: Server,
    readonly detector: DeadlockDetector,
    readonly location: DetectorLocation,
  ) {}

  /** Serves a detector for store `storeId`, already leading unless `leader` is false. */
  static async start(
    storeId: bigint,
    options: WaitForGraphOptions & { readonly leader?: boolean } = {},
  ): Promise<DetectorServer> {
    const logger = silentLogger();
    const detector = new DeadlockDetector({ ...options, storeId, clock: systemClock, logger });
    detector.setRole(options.leader ?? true);
    const server = new Server();
    server.addService(deadlock.DeadlockService, createDeadlockService({ detector, logger }));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    return new DetectorServer(server, detector, { storeId, address: `127.0.0.1:${port}` });
  }

  /** Cuts every stream at once, like a crashed store. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.server.forceShutdown();
  }
}
