import type { MemberInfo } from "./member.ts";

export interface LeadershipEvent {
  readonly isLeader: boolean;
  readonly leader?: MemberInfo;
}

export type LeadershipListener = (event: LeadershipEvent) => void;

/**
 * Which pd member leads. Read `isLeader` once after the backend opens, then follow changes through
 * `onLeadershipChange` (listeners are not called for the state at registration). A member that becomes
 * leader must finish its own start-up (load the TSO window, cluster state) before serving.
 */
export interface Election {
  /** False as soon as the leader lease may have expired, even before listeners hear about it. */
  readonly isLeader: boolean;
  leader(): MemberInfo | undefined;
  /** Live members (registered with a lease that is still being kept alive). */
  members(): Promise<MemberInfo[]>;
  /** Called on every change of this member's leadership or of the known leader; returns an unsubscribe. */
  onLeadershipChange(listener: LeadershipListener): () => void;
  /** Gives up leadership so another member can take over; a no-op for a follower. */
  resign(): Promise<void>;
}
