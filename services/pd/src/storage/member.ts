/** A pd member as other members and clients see it (GetMembers, NOT_LEADER hints, the leader key in etcd). */
export interface MemberInfo {
  readonly name: string;
  readonly memberId: bigint;
  /** gRPC addresses, e.g. "http://127.0.0.1:2379". */
  readonly clientUrls: readonly string[];
  /** HTTP API addresses. */
  readonly httpUrls: readonly string[];
}

/** JSON with the id as a decimal string: JSON numbers lose precision above 2^53. */
export function encodeMember(member: MemberInfo): Buffer {
  return Buffer.from(
    JSON.stringify({
      name: member.name,
      memberId: member.memberId.toString(),
      clientUrls: member.clientUrls,
      httpUrls: member.httpUrls,
    }),
  );
}

export class MalformedMemberError extends Error {
  override readonly name = "MalformedMemberError";

  constructor(
    readonly raw: string,
    problem: string,
  ) {
    super(`malformed member record (${problem}): ${raw.slice(0, 200)}`);
  }
}

export function decodeMember(bytes: Uint8Array): MemberInfo {
  const raw = Buffer.from(bytes).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new MalformedMemberError(raw, "not JSON");
  }
  if (typeof parsed !== "object" || parsed === null) throw new MalformedMemberError(raw, "not an object");
  const record = parsed as Record<string, unknown>;
  const { name, memberId, clientUrls, httpUrls } = record;
  if (typeof name !== "string") throw new MalformedMemberError(raw, "name");
  if (typeof memberId !== "string" || !/^\d+$/.test(memberId))
    throw new MalformedMemberError(raw, "memberId");
  if (!isStringArray(clientUrls)) throw new MalformedMemberError(raw, "clientUrls");
  if (!isStringArray(httpUrls)) throw new MalformedMemberError(raw, "httpUrls");
  return { name, memberId: BigInt(memberId), clientUrls, httpUrls };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
