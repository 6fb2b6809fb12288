/**
 * A thin promise wrapper over the generated grpc-js `pdpb.PD` client for tests: unary calls return the
 * response (pdpb errors stay in its header, so tests can assert on them), and `tsoStream` / `heartbeatStream`
 * send one request at a time and wait for its reply, as the ordering guarantee of the streams allows.
 */
import { type ClientDuplexStream, credentials, type ServiceError } from "@grpc/grpc-js";
import { pdpb } from "#proto";

type Service = typeof pdpb.PDService;
type UnaryName = {
  [Name in keyof Service]: Service[Name]["requestStream"] extends false ? Name : never;
}[keyof Service];
type RequestOf<Name extends UnaryName> = ReturnType<Service[Name]["requestDeserialize"]>;
type ResponseOf<Name extends UnaryName> = ReturnType<Service[Name]["responseDeserialize"]>;
type UntypedUnary = (
  request: unknown,
  callback: (error: ServiceError | null, response: unknown) => void,
) => unknown;

export class PdTestClient {
  readonly raw: pdpb.PDClient;
  clusterId = 0n;

  constructor(address: string) {
    this.raw = new pdpb.PDClient(address.replace(/^https?:\/\//, ""), credentials.createInsecure(), {
      // grpc-js buffers every message of a retryable stream; a long TSO stream makes that buffer costly.
      "grpc.enable_retries": 0,
    });
  }

  header(clusterId = this.clusterId): pdpb.RequestHeader {
    return { clusterId, senderId: 0n };
  }

  /** Learns the cluster id from GetMembers, as real clients do first. */
  async connect(): Promise<this> {
    const response = await this.unary("getMembers", pdpb.GetMembersRequest.fromPartial({}));
    this.clusterId = response.header!.clusterId;
    return this;
  }

  /** Calls a unary RPC by its method name, e.g. `unary("allocId", { header })`. */
  unary<Name extends UnaryName>(name: Name, request: RequestOf<Name>): Promise<ResponseOf<Name>> {
    // The generated client overloads each method; the server interface gives the precise types instead.
    const method = this.raw[name] as unknown as UntypedUnary;
    return new Promise((resolve, reject) => {
      method.call(this.raw, request, (error, response) =>
        error ? reject(error) : resolve(response as ResponseOf<Name>),
      );
    });
  }

  tsoStream(): RequestReplyStream<pdpb.TsoRequest, pdpb.TsoResponse> {
    return new RequestReplyStream(this.raw.tso());
  }

  heartbeatStream(): ClientDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse> {
    return this.raw.regionHeartbeat();
  }

  close(): void {
    this.raw.close();
  }
}

/** Sends one request and waits for its reply; the stream answers in request order. */
export class RequestReplyStream<Request, Response> {
  private readonly waiting: Array<{ resolve: (response: Response) => void; reject: (error: Error) => void }> =
    [];
  private failure: Error | undefined;

  constructor(private readonly stream: ClientDuplexStream<Request, Response>) {
    stream.on("data", (response: Response) => this.waiting.shift()?.resolve(response));
    stream.on("error", (error: Error) => {
      this.failure = error;
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    });
  }

  request(request: Request): Promise<Response> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(request);
    });
  }

  close(): void {
    this.stream.end();
  }
}

/** Reads the next message a heartbeat stream sends, or undefined if none arrives within `timeoutMs`. */
export function nextMessage<Response>(
  stream: ClientDuplexStream<unknown, Response>,
  timeoutMs: number,
): Promise<Response | undefined> {
  return new Promise((resolve) => {
    const onData = (response: Response): void => {
      clearTimeout(timer);
      resolve(response);
    };
    const timer = setTimeout(() => {
      stream.off("data", onData);
      resolve(undefined);
    }, timeoutMs);
    stream.once("data", onData);
  });
}
