/**
 * Test-only: a store that serves nothing but `tikvpb.Tikv/BatchCommands`, over real gRPC on 127.0.0.1, with
 * switches for what the RPC client must survive: answers delayed or never sent, streams killed, the whole
 * server stopped and restarted on the same port. Counts what it receives so tests can assert how the client
 * used the wire. Not exported from the library.
 */
import { Server, ServerCredentials, type ServerDuplexStream, status } from "@grpc/grpc-js";
import { tikvpb } from "#proto";

type Call = ServerDuplexStream<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse>;

/** Returned by a handler to leave a request unanswered forever. */
export const NO_ANSWER = Symbol("no answer");

export type TestAnswer = tikvpb.BatchCommandsResponse_Response | typeof NO_ANSWER;
export type TestCommandHandler = (
  request: tikvpb.BatchCommandsRequest_Request,
) => TestAnswer | Promise<TestAnswer>;

/** Answers `empty` with its test id and anything else with an empty response of the same command. */
export const echoHandler: TestCommandHandler = (request) => {
  const command = request.cmd;
  if (command === undefined) return { cmd: undefined };
  if (command.$case === "empty") return { cmd: { $case: "empty", value: { testId: command.value.testId } } };
  return tikvpb.BatchCommandsResponse_Response.fromPartial({
    cmd: { $case: command.$case, value: {} },
  } as tikvpb.DeepPartial<tikvpb.BatchCommandsResponse_Response>);
};

export class TestBatchServer {
  handler: TestCommandHandler = echoHandler;
  streamsOpened = 0;
  messagesReceived = 0;
  requestsReceived = 0;
  /** The most requests ever received but not yet answered on one stream, and on all streams together. */
  maxOutstandingPerStream = 0;
  maxOutstandingTotal = 0;
  maxRequestsPerMessage = 0;
  private outstandingTotal = 0;
  private readonly calls = new Set<Call>();
  private server: Server | undefined;
  private boundPort = 0;

  private constructor() {}

  static async start(port = 0): Promise<TestBatchServer> {
    const store = new TestBatchServer();
    await store.listen(port);
    return store;
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openStreams(): number {
    return this.calls.size;
  }

  /** Ends every open stream with UNAVAILABLE, as a dying connection would; the server keeps listening. */
  killStreams(): void {
    // A server call's destroy() never reaches the client in grpc-js 1.14; an emitted error status does.
    const error = { code: status.UNAVAILABLE, details: "test store killed the stream" };
    for (const call of this.calls) call.emit("error", error);
    this.calls.clear();
  }

  /** Stops listening and drops every connection at once, like a crashed process. */
  stop(): void {
    this.calls.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** Listens again on the same port (after `stop`), like the store process coming back. */
  async restart(): Promise<void> {
    this.stop();
    await this.listen(this.boundPort);
  }

  private async listen(port: number): Promise<void> {
    const server = new Server();
    server.addService(tikvpb.TikvService, { batchCommands: (call: Call) => this.serve(call) });
    const boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    this.server = server;
    this.boundPort = boundPort;
  }

  private serve(call: Call): void {
    this.streamsOpened++;
    this.calls.add(call);
    let outstanding = 0;
    call.on("data", (message: tikvpb.BatchCommandsRequest) => {
      this.messagesReceived++;
      this.requestsReceived += message.requests.length;
      this.maxRequestsPerMessage = Math.max(this.maxRequestsPerMessage, message.requests.length);
      outstanding += message.requests.length;
      this.outstandingTotal += message.requests.length;
      this.maxOutstandingPerStream = Math.max(this.maxOutstandingPerStream, outstanding);
      this.maxOutstandingTotal = Math.max(this.maxOutstandingTotal, this.outstandingTotal);
      message.requests.forEach((request, index) => {
        void Promise.resolve(this.handler(request)).then((answer) => {
          if (answer === NO_ANSWER) return;
          outstanding--;
          this.outstandingTotal--;
          if (this.calls.has(call))
            call.write({
              requestIds: [message.requestIds[index]!],
              responses: [answer],
              transportLayerLoad: 0n,
            });
        });
      });
    });
    call.on("end", () => {
      this.calls.delete(call);
      call.end();
    });
    call.on("error", () => this.calls.delete(call));
    call.on("cancelled", () => this.calls.delete(call));
  }
}
