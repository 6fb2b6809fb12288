/**
 * Several pd members need a shared metadata store to elect a leader in, which is etcd (architecture brief
 * §6); the embedded store serves exactly one pd. The playground runs a one-member etcd from the binary
 * installed on this machine, and says plainly what to install when there is none.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { CommandError } from "../../cli-errors.ts";

const FALLBACK_PATHS: readonly string[] = ["/usr/bin/etcd"];

export class EtcdNotInstalledError extends CommandError {
  constructor(pdCount: number, searched: readonly string[]) {
    super(
      `--pd ${pdCount} needs etcd: several pd members keep their metadata in etcd and elect their leader ` +
        `there, while the embedded store serves a single pd. No etcd executable was found (looked in ` +
        `${searched.join(", ")}). Install Debian's etcd-server (apt-get install etcd-server), or run with --pd 1.`,
    );
    this.name = "EtcdNotInstalledError";
  }
}

export interface EtcdSearch {
  /** Directories separated like $PATH [process.env.PATH]. */
  readonly searchPath?: string;
  /** Tried after the search path [/usr/bin/etcd, where Debian's etcd-server installs it]. */
  readonly fallbackPaths?: readonly string[];
}

/** The first executable `etcd` on the search path, else at a fallback path. */
export function findEtcdBinary(pdCount: number, search: EtcdSearch = {}): string {
  const fallbackPaths = search.fallbackPaths ?? FALLBACK_PATHS;
  const candidates = [
    ...(search.searchPath ?? process.env.PATH ?? "")
      .split(delimiter)
      .filter((directory) => directory !== "")
      .map((directory) => join(directory, "etcd")),
    ...fallbackPaths,
  ];
  const found = candidates.find(isExecutable);
  if (found === undefined) throw new EtcdNotInstalledError(pdCount, ["PATH", ...fallbackPaths]);
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
