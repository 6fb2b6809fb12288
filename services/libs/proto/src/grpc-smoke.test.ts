import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  credentials,
  type handleBidiStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
} from "@grpc/grpc-js";
import { kvrpcpb, tikvpb } from "./index.ts";

// A test-only store: just enough of the Tikv service to prove the generated server and client
// definitions agree on paths, serialization and streaming.
class InMemoryRawStore {
  readonly #values = new Map<string, Uint8Array>();

  put(key: Uint8Array, value: Uint8Array): void {
    this.#values.set(Buffer.from(key).toString("hex"), value);
  }

  get(key: Uint8Array): kvrpcpb.RawGetResponse {
    const value = this.#values.get(Buffer.from(key).toString("hex"));
    return kvrpcpb.RawGetResponse.create(value === undefined ? { notFound: true } : { value });
  }

  execute(request: tikvpb.BatchCommandsRequest_Request): tikvpb.BatchCommandsResponse_Response {
    const cmd = request.cmd;
    switch (cmd?.$case) {
      case "rawGet":
        return { cmd: { $case: "rawGet", value: this.get(cmd.value.key) } };
      case "rawPut":
        this.put(cmd.value.key, cmd.value.value);
        return { cmd: { $case: "rawPut", value: kvrpcpb.RawPutResponse.create() } };
      case "empty":
        return { cmd: { $case: "empty", value: { testId: cmd.value.testId } } };
      default:
        throw new Error(`test store does not handle ${cmd?.$case ?? "an empty command"}`);
    }
  }
}

function serveRawStore(store: InMemoryRawStore): Pick<tikvpb.TikvServer, "rawGet" | "batchCommands"> {
  const rawGet: handleUnaryCall<kvrpcpb.RawGetRequest, kvrpcpb.RawGetResponse> = (call, callback) => {
    callback(null, store.get(call.request.key));
  };
  const batchCommands: handleBidiStreamingCall<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse> = (
    call,
  ) => {
    call.on("data", (batch: tikvpb.BatchCommandsRequest) => {
      call.write({
        responses: batch.requests.map((request) => store.execute(request)),
        requestIds: batch.requestIds,
        transportLayerLoad: 0n,
      });
    });
    call.on("end", () => call.end());
  };
  return { rawGet, batchCommands };
}

function bindLocalhost(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    );
  });
}

function rawGet(client: tikvpb.TikvClient, key: Uint8Array): Promise<kvrpcpb.RawGetResponse> {
  return new Promise((resolve, reject) => {
    client.rawGet(kvrpcpb.RawGetRequest.create({ key }), (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

// Sends one batch on a fresh BatchCommands stream and resolves with the first reply.
function batchOnce(
  client: tikvpb.TikvClient,
  batch: tikvpb.BatchCommandsRequest,
): Promise<tikvpb.BatchCommandsResponse> {
  return new Promise((resolve, reject) => {
    const stream = client.batchCommands();
    stream.once("data", (response: tikvpb.BatchCommandsResponse) => {
      stream.end();
      resolve(response);
    });
    stream.once("error", reject);
    stream.write(batch);
  });
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("Tikv service over real gRPC", () => {
  const store = new InMemoryRawStore();
  const server = new Server();
  let client: tikvpb.TikvClient | undefined;

  before(async () => {
    server.addService(tikvpb.TikvService, serveRawStore(store));
    const port = await bindLocalhost(server);
    client = new tikvpb.TikvClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  after(() => {
    client?.close();
    server.forceShutdown();
  });

  test("RawGet returns the stored value, or not_found for a missing key", async () => {
    store.put(bytes("present"), bytes("value-1"));

    const found = await rawGet(client!, bytes("present"));
    const missing = await rawGet(client!, bytes("absent"));

    assert.deepEqual(Buffer.from(found.value), Buffer.from("value-1"));
    assert.equal(found.notFound, false);
    assert.equal(missing.notFound, true);
    assert.equal(missing.value.length, 0);
  });

  test("BatchCommands answers each command under its request id", async () => {
    const largeId = 2n ** 64n - 1n;
    const response = await batchOnce(client!, {
      requests: [
        {
          cmd: {
            $case: "rawPut",
            value: kvrpcpb.RawPutRequest.create({ key: bytes("k"), value: bytes("v") }),
          },
        },
        { cmd: { $case: "rawGet", value: kvrpcpb.RawGetRequest.create({ key: bytes("k") }) } },
        { cmd: { $case: "empty", value: { testId: 77n } } },
      ],
      requestIds: [10n, 11n, largeId],
    });

    assert.deepEqual(response.requestIds, [10n, 11n, largeId]);
    assert.deepEqual(
      response.responses.map((item) => item.cmd?.$case),
      ["rawPut", "rawGet", "empty"],
    );
    const getResult = response.responses[1]?.cmd;
    assert.equal(getResult?.$case, "rawGet");
    assert.deepEqual(Buffer.from(getResult.value.value), Buffer.from("v"));
    assert.deepEqual(response.responses[2]?.cmd, { $case: "empty", value: { testId: 77n } });
  });
});
