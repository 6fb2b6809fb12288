/** The playground's command line: `playground [stop] [--stores N] [--pd N] [--data-dir DIR] [--detach]`. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { UsageError } from "../../cli-errors.ts";

export const DEFAULT_DATA_DIR = ".tessera/playground";
export const DEFAULT_STORE_COUNT = 3;
export const DEFAULT_PD_COUNT = 1;
/** Default ports are consecutive from 20160 and 20180, so more than 20 stores would collide; 16 keeps a margin. */
export const MAX_STORE_COUNT = 16;
/** pd members beyond a handful only add election traffic on one machine. */
export const MAX_PD_COUNT = 7;

export interface PlaygroundStartOptions {
  readonly storeCount: number;
  readonly pdCount: number;
  /** Absolute, so the state file and the children agree whatever their working directory. */
  readonly dataDir: string;
  readonly detach: boolean;
}

export type PlaygroundInvocation =
  | { readonly kind: "start"; readonly options: PlaygroundStartOptions }
  | { readonly kind: "stop"; readonly dataDir: string }
  | { readonly kind: "help" };

const OPTIONS = {
  stores: { type: "string" },
  pd: { type: "string" },
  "data-dir": { type: "string", default: DEFAULT_DATA_DIR },
  detach: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** `workingDirectory` anchors a relative --data-dir (npm runs scripts from the repository root). */
export function parsePlaygroundArguments(
  argv: readonly string[],
  workingDirectory: string,
): PlaygroundInvocation {
  const { values, positionals } = parseStrictly(argv);
  if (values.help) return { kind: "help" };
  const dataDir = resolve(workingDirectory, values["data-dir"]);
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (action === "stop") {
    const startOnly = (["stores", "pd", "detach"] as const).filter(
      (name) => values[name] !== undefined && values[name] !== false,
    );
    if (startOnly.length > 0)
      throw new UsageError(`playground stop takes only --data-dir, not --${startOnly[0]}`);
    return { kind: "stop", dataDir };
  }
  if (action !== undefined)
    throw new UsageError(`unknown playground action "${action}"; expected stop or nothing`);
  return {
    kind: "start",
    options: {
      storeCount: parseCount(values.stores, "--stores", DEFAULT_STORE_COUNT, MAX_STORE_COUNT),
      pdCount: parseCount(values.pd, "--pd", DEFAULT_PD_COUNT, MAX_PD_COUNT),
      dataDir,
      detach: values.detach,
    },
  };
}

function parseStrictly(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseCount(text: string | undefined, flag: string, fallback: number, maximum: number): number {
  if (text === undefined) return fallback;
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > maximum) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${maximum}, got "${text}"`);
  }
  return count;
}
