/**
 * A store's `RegionHeartbeat` stream to the pd leader, kept open for the life of the handle: region leaders
 * report on it and pd answers with operators on it. It reopens (after a jittered backoff when the leader
 * failed, at once when pd named a new leader) and then calls `onReconnect`, so the store can report every
 * region it leads to the new leader without waiting for the next periodic round.
 *
 * Heartbeats sent while no stream is open are not lost but not queued without bound either: only the
 * latest heartbeat per region is kept (an older one carries nothing the newer one lacks), up to
 * `maxBufferedHeartbeats` regions, and sent when the stream opens.
 */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "#observability";
import { pdpb } from "#proto";
import { type Clock, type Random, sleep, type TaskScope, type Timers } from "#runtime";
import { ReconnectBackoff, type ReconnectBackoffPolicy } from "../backoff/reconnect-backoff.ts";
import type { PdChannels } from "./grpc-channels.ts";
import type { MemberDiscovery } from "./member-discovery.ts";
import { PdStreamEndedError } from "./pd-errors.ts";

export interface RegionHeartbeatHandlers {
  /** Every answer pd sends, operators and errors alike, except NOT_LEADER, which the stream follows itself. */
  onResponse(response: pdpb.RegionHeartbeatResponse): void;
  /** The stream was opened to a pd leader (first time or after a failure or leader change). */
  onReconnect?(): void;
}

export interface RegionHeartbeatStreamOptions {
  readonly discovery: MemberDiscovery;
  readonly channels: PdChannels;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly backoff: ReconnectBackoffPolicy;
  readonly senderId: bigint;
  readonly discoveryTimeoutMs: number;
  readonly maxBufferedHeartbeats: number;
  readonly closeSignal: AbortSignal;
  /** Owns the stream (re)opening, so the client's close waits for one in flight. */
  readonly tasks: TaskScope;
  readonly logger?: Logger;
  /** Called once when the handle closes, so its owner can forget it. */
  readonly onClosed?: () => void;
}

type HeartbeatCall = ClientDuplexStream<pdpb.RegionHeartbeatRequest, pdpb.RegionHeartbeatResponse>;

interface OpenStream {
  readonly call: HeartbeatCall;
  readonly address: string;
  readonly openedAtMs: number;
}

export class RegionHeartbeatStream {
  private current: OpenStream | undefined;
  private opening = false;
  private closed = false;
  private failuresSinceHealthy = 0;
  private readonly unsent = new Map<bigint, pdpb.RegionHeartbeatRequest>();
  private readonly backoff: ReconnectBackoff;
  private readonly stopListening: () => void;

  constructor(
    private readonly options: RegionHeartbeatStreamOptions,
    private readonly handlers: RegionHeartbeatHandlers,
  ) {
    this.backoff = new ReconnectBackoff(options.backoff, options.random);
    this.stopListening = options.discovery.onLeaderChange((leader) => {
      if (this.current !== undefined && this.current.address !== leader) this.reopen(this.current);
    });
    this.ensureOpen();
  }

  /** The header (cluster id, sender) is filled in here. */
  send(heartbeat: Omit<pdpb.RegionHeartbeatRequest, "header">): void {
    if (this.closed) return;
    const request: pdpb.RegionHeartbeatRequest = { ...heartbeat, header: this.header() };
    if (this.current !== undefined) {
      this.current.call.write(request);
      return;
    }
    this.buffer(request);
    this.ensureOpen();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.unsent.clear();
    this.current?.call.cancel();
    this.current = undefined;
    this.options.onClosed?.();
  }

  /** The client's close aborts the signal, possibly before it reaches this handle's close. */
  private isClosed(): boolean {
    return this.closed || this.options.closeSignal.aborted;
  }

  private buffer(request: pdpb.RegionHeartbeatRequest): void {
    const regionId = request.region?.id ?? 0n;
    this.unsent.delete(regionId);
    if (this.unsent.size >= this.options.maxBufferedHeartbeats) {
      const oldest = this.unsent.keys().next();
      if (!oldest.done) this.unsent.delete(oldest.value);
    }
    this.unsent.set(regionId, request);
  }

  private header(): pdpb.RequestHeader {
    return { clusterId: this.options.discovery.clusterId, senderId: this.options.senderId };
  }

  private ensureOpen(): void {
    if (this.current !== undefined || this.opening || this.isClosed()) return;
    this.opening = this.options.tasks.spawn("open the pd region heartbeat stream", async () => {
      try {
        await this.open();
      } finally {
        this.opening = false;
        if (this.current === undefined) this.ensureOpen();
      }
    });
  }

  private async open(): Promise<void> {
    const { discovery, clock } = this.options;
    try {
      if (this.failuresSinceHealthy > 0) {
        await sleep(this.backoff.nextDelayMs(), this.options.timers, this.options.closeSignal);
      }
      const address = await discovery.leaderOrDiscover(clock.monotonicMs() + this.options.discoveryTimeoutMs);
      if (this.isClosed()) return;
      this.attach(address);
    } catch (error) {
      if (this.isClosed()) return;
      this.failuresSinceHealthy++;
      this.options.logger?.warn({ err: error }, "cannot open the pd region heartbeat stream");
    }
  }

  private attach(address: string): void {
    const call: HeartbeatCall = this.options.channels.get(address).regionHeartbeat();
    const stream: OpenStream = { call, address, openedAtMs: this.options.clock.monotonicMs() };
    this.current = stream;
    call.on("data", (response: pdpb.RegionHeartbeatResponse) => this.onData(stream, response));
    call.on("error", (error: unknown) => this.onBroken(stream, error));
    const ended = (): Error => new PdStreamEndedError({ endpoint: address, stream: "region heartbeat" });
    // A server that ends the stream cleanly emits only a status (and 'end' once its data is consumed).
    call.on("status", () => this.onBroken(stream, ended()));
    call.on("end", () => this.onBroken(stream, ended()));
    for (const request of this.unsent.values()) call.write({ ...request, header: this.header() });
    this.unsent.clear();
    this.handlers.onReconnect?.();
  }

  private onData(stream: OpenStream, response: pdpb.RegionHeartbeatResponse): void {
    if (stream !== this.current) return;
    const error = response.header?.error;
    if (error?.type === pdpb.ErrorType.NOT_LEADER) {
      if (!this.options.discovery.followLeaderHint(error.leader, stream.address)) {
        this.options.discovery.leaderFailed(stream.address);
        this.failuresSinceHealthy++;
      }
      this.reopen(stream);
      return;
    }
    this.handlers.onResponse(response);
  }

  private onBroken(stream: OpenStream, cause: unknown): void {
    if (stream !== this.current) return;
    // A stream that lived longer than the backoff cap was healthy: start the next series of delays afresh.
    if (this.options.clock.monotonicMs() - stream.openedAtMs >= this.options.backoff.capMs) {
      this.failuresSinceHealthy = 0;
      this.backoff.reset();
    }
    this.failuresSinceHealthy++;
    this.options.discovery.leaderFailed(stream.address);
    this.options.logger?.warn({ err: cause, endpoint: stream.address }, "pd region heartbeat stream broke");
    this.reopen(stream);
  }

  private reopen(stream: OpenStream): void {
    if (stream !== this.current) return;
    this.current = undefined;
    stream.call.cancel();
    this.ensureOpen();
  }
}
