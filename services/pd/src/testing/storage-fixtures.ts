/** Test-only: what the storage tests share (a member numbered for its ports, polling, UTF-8 keys). */
import type { MemberInfo } from "../storage/member.ts";

/** Member `index` with the ports a local etcd test cluster would give it. */
export function numberedMember(index: number): MemberInfo {
  return {
    name: `pd-${index}`,
    memberId: 1000n + BigInt(index),
    clientUrls: [`http://127.0.0.1:${12379 + index}`],
    httpUrls: [`http://127.0.0.1:${12378 + index}`],
  };
}

const POLL_INTERVAL_MS = 50;

/** Polls until `condition` holds; fails with `description` after `timeoutMs` (a bound, not a latency claim). */
export async function waitUntil(
  description: string,
  timeoutMs: number,
  condition: () => boolean | Promise<boolean>,
) {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${description}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const fromUtf8 = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
