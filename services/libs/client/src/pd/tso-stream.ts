/**
 * One long-lived bidirectional `Tso` stream to one pd member. pd answers requests in the order they were
 * sent, so the owner matches answers to requests by position. The stream reports its end exactly once,
 * whether the server ended it, the connection broke, or the owner closed it (an owner's close is silent).
 */
import { type ClientDuplexStream, type StatusObject, status } from "@grpc/grpc-js";
import type { pdpb } from "#proto";
import { PdStreamEndedError } from "./pd-errors.ts";

export interface TsoStreamEvents {
  onResponse(stream: TsoStream, response: pdpb.TsoResponse): void;
  onBroken(stream: TsoStream, cause: unknown): void;
}

export class TsoStream {
  private readonly call: ClientDuplexStream<pdpb.TsoRequest, pdpb.TsoResponse>;
  private ended = false;

  constructor(
    client: pdpb.PDClient,
    readonly address: string,
    private readonly header: pdpb.RequestHeader,
    events: TsoStreamEvents,
  ) {
    this.call = client.tso();
    this.call.on("data", (response: pdpb.TsoResponse) => {
      if (!this.ended) events.onResponse(this, response);
    });
    const finish = (cause: unknown): void => {
      if (this.ended) return;
      this.ended = true;
      events.onBroken(this, cause);
    };
    this.call.on("error", finish);
    // A server that ends the stream cleanly emits only a status (and 'end' once its data is consumed).
    this.call.on("status", (ending: StatusObject) =>
      finish(
        new PdStreamEndedError({
          endpoint: address,
          stream: "TSO",
          status: `${status[ending.code]} ${ending.details}`,
        }),
      ),
    );
    this.call.on("end", () => finish(new PdStreamEndedError({ endpoint: address, stream: "TSO" })));
  }

  send(count: number): void {
    this.call.write({ header: this.header, count });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.cancel();
  }
}
