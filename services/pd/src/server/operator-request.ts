/**
 * Parses the JSON body of `POST /pd/api/v1/operators` into a scheduling request. The names follow
 * pd-ctl's (`transfer-leader`, `add-peer`, `remove-peer`, `split-region`); ids may be JSON numbers or
 * decimal strings (ids above 2^53 only survive as strings); split keys are hex.
 */
import type { ManualOperatorRequest, SplitPolicyName } from "../schedule/index.ts";
import { HttpError } from "./http-server.ts";

const SPLIT_POLICIES: readonly SplitPolicyName[] = ["scan", "approximate", "use-key"];

export function parseOperatorRequest(body: unknown): ManualOperatorRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "operator request must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  const regionId = idField(fields, "region_id");
  switch (fields.name) {
    case "transfer-leader":
      return { kind: "transfer-leader", regionId, toStoreId: idField(fields, "to_store_id") };
    case "add-peer":
      return { kind: "add-peer", regionId, storeId: idField(fields, "store_id") };
    case "remove-peer":
      return { kind: "remove-peer", regionId, storeId: idField(fields, "store_id") };
    case "split-region":
      return {
        kind: "split",
        regionId,
        policy: splitPolicy(fields.policy, fields.keys),
        keys: splitKeys(fields.keys),
      };
    default:
      throw new HttpError(
        400,
        `"name" must be one of transfer-leader, add-peer, remove-peer, split-region; got ${JSON.stringify(fields.name)}`,
      );
  }
}

function idField(fields: Record<string, unknown>, name: string): bigint {
  const value = fields[name];
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (
    typeof text !== "string" ||
    !/^\d{1,20}$/.test(text) ||
    BigInt(text) === 0n ||
    BigInt(text) >= 1n << 64n
  ) {
    throw new HttpError(400, `"${name}" must be a positive 64-bit id, got ${JSON.stringify(value)}`);
  }
  return BigInt(text);
}

function splitPolicy(policy: unknown, keys: unknown): SplitPolicyName {
  if (policy === undefined) return keys === undefined ? "scan" : "use-key";
  if (typeof policy === "string" && (SPLIT_POLICIES as readonly string[]).includes(policy)) {
    return policy as SplitPolicyName;
  }
  throw new HttpError(
    400,
    `"policy" must be one of ${SPLIT_POLICIES.join(", ")}, got ${JSON.stringify(policy)}`,
  );
}

function splitKeys(keys: unknown): Uint8Array[] {
  if (keys === undefined) return [];
  if (
    !Array.isArray(keys) ||
    !keys.every((key) => typeof key === "string" && /^([0-9a-fA-F]{2})+$/.test(key))
  ) {
    throw new HttpError(400, `"keys" must be an array of non-empty hex strings, got ${JSON.stringify(keys)}`);
  }
  return keys.map((key: string) => Buffer.from(key, "hex"));
}
