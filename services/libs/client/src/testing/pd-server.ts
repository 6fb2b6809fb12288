/**
 * Test-only: a tiny pd over real gRPC on 127.0.0.1, with switches for the failures the client must survive
 * (a member that is not the leader, a TSO stream that never answers or breaks, a wrong cluster). Counts what
 * it receives so tests can assert how the client used the wire. Not exported from the library.
 */
import {
  type handleBidiStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  status,
} from "@grpc/grpc-js";
import { LOGICAL_LIMIT } from "#codec";
import { pdpb } from "#proto";

/**
 * serve: answer; silent: accept and never answer; not-leader: answer NOT_LEADER naming `leaderHint`;
 * wrong-count: answer TSO requests with one timestamp fewer than asked (a protocol violation);
 * hold: keep TSO requests unanswered until `releaseHeld()`.
 */
export type TestPdMode = "serve" | "silent" | "not-leader" | "wrong-count" | "hold";

export interface TestPdServerOptions {
  readonly clusterId: bigint;
  readonly name: string;
  readonly initialPhysicalMs?: bigint;
  readonly initialLogical?: bigint;
}

interface Headered {
  readonly header?: pdpb.RequestHeader | undefined;
}

export class TestPdServer {
  mode: TestPdMode = "serve";
  /** The member NOT_LEADER answers name; also what GetMembers reports as leader when set. */
  leaderHint: pdpb.Member | undefined;
  /** Extra members GetMembers lists besides this one. */
  otherMembers: pdpb.Member[] = [];
  readonly tsoCounts: number[] = [];
  readonly regionHeartbeats: pdpb.RegionHeartbeatRequest[] = [];
  readonly unaryCalls: string[] = [];
  tsoStreamsOpened = 0;
  regionHeartbeatStreamsOpened = 0;
  private physicalMs: bigint;
  private nextLogical: bigint;
  private nextId = 1000n;
  private held: Array<() => void> = [];
  private readonly tsoCalls = new Set<ServerDuplexStream<pdpb.TsoRequest, pdpb.TsoResponse>>();
  private readonly heartbeatCalls = new Set<
    ServerDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse>
  >();

  private constructor(
    private readonly server: Server,
    readonly address: string,
    private readonly options: TestPdServerOptions,
  ) {
    this.physicalMs = options.initialPhysicalMs ?? 1_700_000_000_000n;
    this.nextLogical = options.initialLogical ?? 0n;
  }

  static async start(options: TestPdServerOptions): Promise<TestPdServer> {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, boundPort) =>
        error ? reject(error) : resolve(boundPort),
      );
    });
    const pd = new TestPdServer(server, `127.0.0.1:${port}`, options);
    server.addService(pdpb.PDService, pd.service());
    return pd;
  }

  get member(): pdpb.Member {
    return { name: this.options.name, memberId: 1n, peerUrls: [], clientUrls: [`http://${this.address}`] };
  }

  /** Ends every open TSO and heartbeat stream with UNAVAILABLE, as a dying connection would. */
  breakStreams(): void {
    // A server call's destroy() never reaches the client in grpc-js 1.14; an emitted error status does.
    const error = { code: status.UNAVAILABLE, details: "test pd broke the stream" };
    for (const call of [...this.tsoCalls, ...this.heartbeatCalls]) call.emit("error", error);
    this.tsoCalls.clear();
    this.heartbeatCalls.clear();
  }

  /** Switches to "serve" and answers the TSO requests held so far, in order. */
  releaseHeld(): void {
    this.mode = "serve";
    for (const answer of this.held.splice(0)) answer();
  }

  /** Sends `response` on every open region heartbeat stream. */
  pushOperator(response: pdpb.RegionHeartbeatResponse): void {
    for (const call of this.heartbeatCalls) call.write(response);
  }

  close(): void {
    this.server.forceShutdown();
  }

  private service(): pdpb.PDServer {
    const unimplemented: handleUnaryCall<Headered, never> = (_call, callback) =>
      callback({ code: status.UNIMPLEMENTED, details: "not in the test pd" });
    return {
      getMembers: (_call, callback) => {
        this.unaryCalls.push("GetMembers");
        callback(null, {
          header: this.header(),
          members: [this.member, ...this.otherMembers],
          leader: this.leaderHint ?? this.member,
        });
      },
      tso: this.tso(),
      regionHeartbeat: this.regionHeartbeat(),
      allocId: this.unary("AllocID", pdpb.AllocIDResponse, () => ({ body: { id: this.nextId++ } })),
      isBootstrapped: this.unary("IsBootstrapped", pdpb.IsBootstrappedResponse, () => ({
        body: { bootstrapped: false },
      })),
      getRegion: this.unary("GetRegion", pdpb.GetRegionResponse, () => ({
        error: { type: pdpb.ErrorType.REGION_NOT_FOUND, message: "no region" },
      })),
      bootstrap: this.unary("Bootstrap", pdpb.BootstrapResponse, () => ({
        error: { type: pdpb.ErrorType.ALREADY_BOOTSTRAPPED, message: "cluster is already bootstrapped" },
      })),
      getStore: unimplemented,
      putStore: unimplemented,
      getAllStores: unimplemented,
      storeHeartbeat: unimplemented,
      getRegionById: unimplemented,
      scanRegions: unimplemented,
      askBatchSplit: unimplemented,
      reportBatchSplit: unimplemented,
      getGcSafePoint: unimplemented,
      updateGcSafePoint: unimplemented,
    };
  }

  /** An error of type OK means success and is left out of the header. */
  private header(error?: pdpb.Error): pdpb.ResponseHeader {
    const failed = error !== undefined && error.type !== pdpb.ErrorType.OK;
    return { clusterId: this.options.clusterId, error: failed ? error : undefined };
  }

  /** The header error for a request, if any: wrong cluster first, then the mode. */
  private refusal(request: Headered): pdpb.Error | undefined {
    const clusterId = request.header?.clusterId ?? 0n;
    if (clusterId !== this.options.clusterId) {
      const message = `cluster ${clusterId} is not ${this.options.clusterId}`;
      return { type: pdpb.ErrorType.CLUSTER_MISMATCH, message, leader: undefined };
    }
    if (this.mode === "not-leader") {
      return { type: pdpb.ErrorType.NOT_LEADER, message: "not the leader", leader: this.leaderHint };
    }
    return undefined;
  }

  private unary<Request extends Headered, Response>(
    method: string,
    messages: { fromPartial(object: object): Response },
    answer: () => { readonly body?: object; readonly error?: Partial<pdpb.Error> },
  ): handleUnaryCall<Request, Response> {
    return (call, callback) => {
      this.unaryCalls.push(method);
      if (this.mode === "silent") return;
      const refusal = this.refusal(call.request);
      const { body, error } = refusal === undefined ? answer() : { body: {}, error: refusal };
      callback(
        null,
        messages.fromPartial({ ...body, header: this.header(pdpb.Error.fromPartial(error ?? {})) }),
      );
    };
  }

  private tso(): handleBidiStreamingCall<pdpb.TsoRequest, pdpb.TsoResponse> {
    return (call) => {
      this.tsoStreamsOpened++;
      this.tsoCalls.add(call);
      call.on("data", (request: pdpb.TsoRequest) => {
        this.tsoCounts.push(request.count);
        if (this.mode === "silent") return;
        if (this.mode === "hold") this.held.push(() => this.answerTso(call, request));
        else this.answerTso(call, request);
      });
      call.on("end", () => call.end());
      call.on("error", () => this.tsoCalls.delete(call));
    };
  }

  private answerTso(
    call: ServerDuplexStream<pdpb.TsoRequest, pdpb.TsoResponse>,
    request: pdpb.TsoRequest,
  ): void {
    const refusal = this.refusal(request);
    if (refusal !== undefined) {
      call.write({ header: this.header(refusal), count: 0, timestamp: undefined });
      return;
    }
    const count = this.mode === "wrong-count" ? request.count - 1 : request.count;
    call.write({ header: this.header(), count, timestamp: this.allocate(count) });
  }

  private allocate(count: number): pdpb.Timestamp {
    const size = BigInt(count);
    if (this.nextLogical + size > BigInt(LOGICAL_LIMIT)) {
      this.physicalMs++;
      this.nextLogical = 0n;
    }
    this.nextLogical += size;
    return { physical: this.physicalMs, logical: this.nextLogical - 1n };
  }

  private regionHeartbeat(): handleBidiStreamingCall<
    pdpb.RegionHeartbeatRequest,
    pdpb.RegionHeartbeatResponse
  > {
    return (call) => {
      this.regionHeartbeatStreamsOpened++;
      this.heartbeatCalls.add(call);
      call.on("data", (request: pdpb.RegionHeartbeatRequest) => {
        this.regionHeartbeats.push(request);
        const refusal = this.refusal(request);
        if (refusal !== undefined)
          call.write(pdpb.RegionHeartbeatResponse.create({ header: this.header(refusal) }));
      });
      call.on("end", () => call.end());
      call.on("error", () => this.heartbeatCalls.delete(call));
    };
  }
}
