/**
 * Commands of the action scripts (txn/actions/testdata/*.txt). Each runs one action through the
 * ActionHarness, as the scheduler would (a failed command writes nothing). A write command prints its
 * result, then each modification it applied (`+ cf key: record`, `- cf key`).
 *
 *   reset | dump
 *   get <key> ts=<ts> [resolved=(<ts>,..)]
 *   batch-get <key>.. ts=<ts> [resolved=(..)]
 *   scan [start=<key>] [end=<key>] ts=<ts> [limit=<n>] [reverse] [key-only] [resolved=(..)]
 *   prewrite <mutation>.. primary=<key> start=<ts> [ttl=<ms>] [txn-size=<n>] [for-update=<ts>]
 *            [pessimistic=(<key>,..)] [min-commit=<ts>] [async [secondaries=(..)]] [one-pc]
 *            [max-commit=<ts>] [floor=<ts>] [skip-check]
 *        mutations: <key>=<value> (put), insert:<key>=<value>, del:<key>, lock:<key>, check:<key>
 *        (check-not-exists); async without secondaries= lists every mutation key but the primary
 *   commit <key>.. start=<ts> commit=<ts>
 *   batch-rollback <key>.. start=<ts>
 *   cleanup <key> start=<ts> [current=<ts>]
 *   check-txn-status <primary> lock-ts=<ts> [caller=<ts>] [current=<ts>] [rollback-if-not-exist]
 *                    [resolving-pessimistic]
 *   check-secondary-locks <key>.. start=<ts>
 *   resolve-lock [<key>..] txns=(<start>:<commit>,..)   commit 0 rolls back; no keys: every lock of
 *                                                       those transactions, as over a whole region
 *   heartbeat <primary> start=<ts> ttl=<ms>
 *   scan-lock max-ts=<ts> [start=<key>] [end=<key>] [limit=<n>]
 *   pessimistic-lock <key>.. primary=<key> start=<ts> for-update=<ts> [ttl=<ms>] [min-commit=<ts>]
 *                    [return-values]     check:<key> locks a key that must not exist
 *   pessimistic-rollback <key>.. start=<ts> for-update=<ts>
 *   gc safe-point=<ts> [start=<key>] [end=<key>] [max-keys=<n>]
 */
import { compareBytes } from "#codec";
import type { KeyError } from "../../mvcc/key-error.ts";
import { MvccReader } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { type ReadOptions, type ReadPair, SnapshotReader } from "../../mvcc/snapshot-reader.ts";
import { batchRollback, cleanup } from "../../txn/actions/batch-rollback.ts";
import { checkSecondaryLocks } from "../../txn/actions/check-secondary-locks.ts";
import { checkTxnStatus } from "../../txn/actions/check-txn-status.ts";
import { commit } from "../../txn/actions/commit.ts";
import { gcRange } from "../../txn/actions/gc.ts";
import { txnHeartBeat } from "../../txn/actions/heartbeat.ts";
import { pessimisticLock, pessimisticRollback } from "../../txn/actions/pessimistic-lock.ts";
import { type MutationOp, prewrite, type TxnMutation } from "../../txn/actions/prewrite.ts";
import { resolveLocks } from "../../txn/actions/resolve-lock.ts";
import { type LockedKey, scanLocks } from "../../txn/actions/scan-lock.ts";
import type { MemoryMvccStorage } from "../memory-mvcc-storage.ts";
import { ActionHarness } from "./action-harness.ts";
import { formatEntry, formatKeyError, formatLock, formatModify } from "./record-format.ts";
import { ScriptArguments } from "./script-arguments.ts";
import type { ScriptArgument, ScriptStep } from "./script-file.ts";
import {
  formatKey,
  formatTimestamp,
  formatValue,
  parseKey,
  parseTimestamp,
  parseValue,
} from "./script-values.ts";

const DEFAULT_TTL_MS = 3000n;
const DEFAULT_SCAN_LIMIT = 100;
const EVERYTHING = Number.MAX_SAFE_INTEGER;
const EMPTY = new Uint8Array(0);

export class ActionScriptEnvironment {
  harness = new ActionHarness();

  get storage(): MemoryMvccStorage {
    return this.harness.storage;
  }
}

type Handler = (env: ActionScriptEnvironment, args: ScriptArguments) => Promise<string[]>;

/** Runs one step and returns its output. */
export async function runActionStep(env: ActionScriptEnvironment, step: ScriptStep): Promise<string> {
  const handler = COMMANDS[step.command];
  const args = new ScriptArguments(step);
  if (handler === undefined) args.fail(`unknown command (one of ${Object.keys(COMMANDS).join(", ")})`);
  const lines = await handler(env, args);
  args.finish();
  return lines.join("\n");
}

/** Runs an action through the harness and renders what it applied. */
async function execute<Result>(
  env: ActionScriptEnvironment,
  action: (reader: MvccReader, txn: MvccTxn) => Promise<Result>,
  failed: (result: Result) => boolean,
): Promise<{ readonly result: Result; readonly written: string[] }> {
  const { result, applied } = await env.harness.run(action, failed);
  return { result, written: applied.map(formatModify) };
}

const outcome = (error: KeyError | undefined): string => (error === undefined ? "ok" : formatKeyError(error));

function readOptions(args: ScriptArguments): ReadOptions {
  return {
    readTs: args.timestamp("ts"),
    resolvedLocks: new Set((args.list("resolved") ?? []).map(parseTimestamp)),
  };
}

function formatPairs(pairs: readonly ReadPair[]): string[] {
  if (pairs.length === 0) return ["(empty)"];
  return pairs.map((pair) =>
    "error" in pair
      ? `${formatKey(pair.key)}: ${formatKeyError(pair.error)}`
      : `${formatKey(pair.key)}: ${formatValue(pair.value)}`,
  );
}

const MUTATION_PREFIXES: Readonly<Record<string, MutationOp>> = {
  insert: "insert",
  del: "delete",
  lock: "lock",
  check: "check-not-exists",
};

function parseMutation(args: ScriptArguments, argument: ScriptArgument): TxnMutation {
  const colon = argument.key.indexOf(":");
  const op = colon < 0 ? "put" : MUTATION_PREFIXES[argument.key.slice(0, colon)];
  if (op === undefined) args.fail(`unknown mutation ${argument.key}`);
  const key = parseKey(argument.key.slice(colon + 1));
  const hasValue = op === "put" || op === "insert";
  if (hasValue !== (argument.values.length === 1)) args.fail(`mutation ${argument.key}: value or not`);
  return { op, key, value: hasValue ? parseValue(argument.values[0]!) : EMPTY };
}

async function runPrewrite(env: ActionScriptEnvironment, args: ScriptArguments): Promise<string[]> {
  const primary = parseKey(args.text("primary") ?? args.fail("missing primary="));
  const startTs = args.timestamp("start");
  const lockTtlMs = args.timestamp("ttl", DEFAULT_TTL_MS);
  const txnSize = BigInt(args.integer("txn-size", 0));
  const forUpdateTs = args.timestamp("for-update", 0n);
  const pessimisticKeys = new Set(args.list("pessimistic") ?? []);
  const minCommitTs = args.timestamp("min-commit", 0n);
  const useAsyncCommit = args.flag("async");
  const explicitSecondaries = args.keys("secondaries");
  const tryOnePc = args.flag("one-pc");
  const maxCommitTs = args.timestamp("max-commit", 0n);
  const commitTsFloor = args.timestamp("floor", 0n);
  const skipConstraintCheck = args.flag("skip-check");
  const mutations = args.rest().map((argument) => parseMutation(args, argument));
  const secondaries =
    explicitSecondaries ?? mutations.map((m) => m.key).filter((key) => compareBytes(key, primary) !== 0);
  const { result, written } = await execute(
    env,
    (reader, txn) =>
      prewrite(reader, txn, {
        mutations,
        primary,
        startTs,
        lockTtlMs,
        txnSize,
        forUpdateTs,
        isPessimisticLock: mutations.map((m) => pessimisticKeys.has(formatKey(m.key))),
        minCommitTs,
        useAsyncCommit,
        secondaries: useAsyncCommit ? secondaries : [],
        tryOnePc,
        maxCommitTs,
        skipConstraintCheck,
        commitTsFloor,
      }),
    (outcome) => outcome.errors.length > 0,
  );
  if (result.errors.length > 0) return result.errors.map(formatKeyError);
  const summary = ["ok"];
  if (result.minCommitTs > 0n) summary.push(`min-commit=${formatTimestamp(result.minCommitTs)}`);
  if (result.onePcCommitTs > 0n) summary.push(`one-pc-commit=${formatTimestamp(result.onePcCommitTs)}`);
  return [summary.join(" "), ...written];
}

async function runPessimisticLock(env: ActionScriptEnvironment, args: ScriptArguments): Promise<string[]> {
  const primary = parseKey(args.text("primary") ?? args.fail("missing primary="));
  const startTs = args.timestamp("start");
  const forUpdateTs = args.timestamp("for-update");
  const lockTtlMs = args.timestamp("ttl", DEFAULT_TTL_MS);
  const minCommitTs = args.timestamp("min-commit", 0n);
  const returnValues = args.flag("return-values");
  const keys = args.rest().map((argument) => {
    if (argument.values.length > 0) args.fail(`unknown argument ${argument.key}=`);
    const shouldNotExist = argument.key.startsWith("check:");
    return {
      key: parseKey(shouldNotExist ? argument.key.slice("check:".length) : argument.key),
      shouldNotExist,
    };
  });
  const { result, written } = await execute(
    env,
    (reader, txn) =>
      pessimisticLock(reader, txn, {
        keys,
        primary,
        startTs,
        forUpdateTs,
        lockTtlMs,
        minCommitTs,
        returnValues,
      }),
    (outcome) => outcome.kind === "error",
  );
  if (result.kind === "error") return [formatKeyError(result.error)];
  const values = returnValues
    ? result.values.map(
        (value, index) =>
          `${formatKey(keys[index]!.key)}: ${value === undefined ? "not found" : formatValue(value)}`,
      )
    : [];
  return ["ok", ...values, ...written];
}

async function runCheckTxnStatus(env: ActionScriptEnvironment, args: ScriptArguments): Promise<string[]> {
  const lockTs = args.timestamp("lock-ts");
  const callerStartTs = args.timestamp("caller", 0n);
  const currentTs = args.timestamp("current", 0n);
  const rollbackIfNotExist = args.flag("rollback-if-not-exist");
  const resolvingPessimisticLock = args.flag("resolving-pessimistic");
  const forceSyncCommit = args.flag("force-sync-commit");
  const [primary] = args.restKeys();
  if (primary === undefined) args.fail("missing primary key");
  const { result, written } = await execute(
    env,
    (reader, txn) =>
      checkTxnStatus(reader, txn, {
        primary,
        lockTs,
        callerStartTs,
        currentTs,
        rollbackIfNotExist,
        resolvingPessimisticLock,
        forceSyncCommit,
      }),
    (status) => status.kind === "error",
  );
  switch (result.kind) {
    case "alive":
      return [`alive action=${result.action} (${formatLock(result.lock)})`, ...written];
    case "committed":
      return [`committed commit=${formatTimestamp(result.commitTs)}`, ...written];
    case "rolled-back":
      return [`rolled back action=${result.action}`, ...written];
    case "error":
      return [formatKeyError(result.error)];
    default:
      return result satisfies never;
  }
}

async function runResolveLock(env: ActionScriptEnvironment, args: ScriptArguments): Promise<string[]> {
  const fates = new Map<bigint, bigint>();
  for (const fate of args.list("txns") ?? args.fail("missing txns=")) {
    const [start, commitTs] = fate.split(":");
    if (start === undefined || commitTs === undefined) args.fail(`bad fate ${fate} (want <start>:<commit>)`);
    fates.set(parseTimestamp(start), parseTimestamp(commitTs));
  }
  const keys = args.restKeys();
  const reader = new MvccReader(env.storage);
  const locks: LockedKey[] = [];
  if (keys.length === 0) {
    const all = { startKey: EMPTY, endKey: EMPTY };
    locks.push(...(await scanLocks(env.storage, all, (lock) => fates.has(lock.startTs), EVERYTHING)));
  } else {
    for (const key of keys) {
      const lock = await reader.loadLock(key);
      if (lock !== undefined) locks.push({ key, lock });
    }
  }
  const { result, written } = await execute(
    env,
    (mvcc, txn) => resolveLocks(mvcc, txn, locks, fates),
    (error) => error !== undefined,
  );
  return [outcome(result), ...written];
}

async function runGc(env: ActionScriptEnvironment, args: ScriptArguments): Promise<string[]> {
  const safePoint = args.timestamp("safe-point");
  const startKey = parseKey(args.text("start") ?? "");
  const endKey = parseKey(args.text("end") ?? "");
  const maxKeys = args.integer("max-keys", EVERYTHING);
  const { result, written } = await execute(
    env,
    (_reader, txn) => gcRange(env.storage, txn, { startKey, endKey }, safePoint, maxKeys),
    () => false,
  );
  const next = result.nextKey === undefined ? "done" : `next=${formatKey(result.nextKey)}`;
  return [`deleted=${result.deletedVersions} ${next}`, ...written];
}

async function dump(env: ActionScriptEnvironment): Promise<string[]> {
  const lines: string[] = [];
  for (const cf of ["lock", "write", "default"] as const) {
    const all = { gte: EMPTY, lt: undefined, reverse: false, limit: EVERYTHING };
    for (const entry of await env.storage.scan(cf, all)) lines.push(formatEntry(cf, entry));
  }
  return lines.length === 0 ? ["(empty)"] : lines;
}

const COMMANDS: Readonly<Record<string, Handler>> = {
  reset: async (env) => {
    env.harness = new ActionHarness();
    return ["ok"];
  },
  dump,
  get: async (env, args) => {
    const snapshot = new SnapshotReader(env.storage, readOptions(args));
    const [key] = args.restKeys();
    const result = await snapshot.get(key ?? args.fail("missing key"));
    if ("error" in result) return [formatKeyError(result.error)];
    return [result.value === undefined ? "not found" : formatValue(result.value)];
  },
  "batch-get": async (env, args) => {
    const snapshot = new SnapshotReader(env.storage, readOptions(args));
    return formatPairs(await snapshot.batchGet(args.restKeys()));
  },
  scan: async (env, args) => {
    const snapshot = new SnapshotReader(env.storage, readOptions(args));
    const pairs = await snapshot.scan({
      startKey: parseKey(args.text("start") ?? ""),
      endKey: parseKey(args.text("end") ?? ""),
      limit: args.integer("limit", DEFAULT_SCAN_LIMIT),
      reverse: args.flag("reverse"),
      keyOnly: args.flag("key-only"),
    });
    return formatPairs(pairs);
  },
  prewrite: runPrewrite,
  commit: async (env, args) => {
    const startTs = args.timestamp("start");
    const commitTs = args.timestamp("commit");
    const keys = args.restKeys();
    const { result, written } = await execute(
      env,
      (reader, txn) => commit(reader, txn, { keys, startTs, commitTs }),
      (error) => error !== undefined,
    );
    return [outcome(result), ...written];
  },
  "batch-rollback": async (env, args) => {
    const startTs = args.timestamp("start");
    const keys = args.restKeys();
    const { result, written } = await execute(
      env,
      (reader, txn) => batchRollback(reader, txn, keys, startTs),
      (error) => error !== undefined,
    );
    return [outcome(result), ...written];
  },
  cleanup: async (env, args) => {
    const startTs = args.timestamp("start");
    const currentTs = args.timestamp("current", 0n);
    const [key] = args.restKeys();
    const { result, written } = await execute(
      env,
      (reader, txn) => cleanup(reader, txn, key ?? args.fail("missing key"), startTs, currentTs),
      (outcome) => outcome.kind !== "rolled-back",
    );
    if (result.kind === "locked") return [formatKeyError(result.error)];
    if (result.kind === "committed") return [`committed commit=${formatTimestamp(result.commitTs)}`];
    return ["rolled back", ...written];
  },
  "check-txn-status": runCheckTxnStatus,
  "check-secondary-locks": async (env, args) => {
    const startTs = args.timestamp("start");
    const keys = args.restKeys();
    const { result, written } = await execute(
      env,
      (reader, txn) => checkSecondaryLocks(reader, txn, keys, startTs),
      () => false,
    );
    if (result.kind === "committed")
      return [`committed commit=${formatTimestamp(result.commitTs)}`, ...written];
    if (result.kind === "rolled-back") return ["rolled back", ...written];
    return [
      "locked",
      ...result.locks.map(({ key, lock }) => `${formatKey(key)} (${formatLock(lock)})`),
      ...written,
    ];
  },
  "resolve-lock": runResolveLock,
  heartbeat: async (env, args) => {
    const startTs = args.timestamp("start");
    const ttlMs = args.timestamp("ttl");
    const [primary] = args.restKeys();
    const { result, written } = await execute(
      env,
      (reader, txn) => txnHeartBeat(reader, txn, primary ?? args.fail("missing primary key"), startTs, ttlMs),
      (outcome) => "error" in outcome,
    );
    if ("error" in result) return [formatKeyError(result.error)];
    return [`ttl=${result.ttlMs}`, ...written];
  },
  "scan-lock": async (env, args) => {
    const maxTs = args.timestamp("max-ts");
    const range = { startKey: parseKey(args.text("start") ?? ""), endKey: parseKey(args.text("end") ?? "") };
    const limit = args.integer("limit", DEFAULT_SCAN_LIMIT);
    const locks = await scanLocks(env.storage, range, (lock) => lock.startTs <= maxTs, limit);
    if (locks.length === 0) return ["(empty)"];
    return locks.map(({ key, lock }) => `${formatKey(key)} (${formatLock(lock)})`);
  },
  "pessimistic-lock": runPessimisticLock,
  "pessimistic-rollback": async (env, args) => {
    const startTs = args.timestamp("start");
    const forUpdateTs = args.timestamp("for-update");
    const keys = args.restKeys();
    const { written } = await execute(
      env,
      (reader, txn) => pessimisticRollback(reader, txn, keys, startTs, forUpdateTs),
      () => false,
    );
    return ["ok", ...written];
  },
  gc: runGc,
};
