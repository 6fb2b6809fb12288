/**
 * The harness needs root, `ip netns` and `iptables`. It checks them before touching anything so a machine
 * that cannot run chaos tests says exactly why, rather than failing halfway through a setup.
 */
import { run } from "./shell.ts";

export class ChaosPreflightError extends Error {
  constructor(readonly reason: string) {
    super(`chaos harness cannot run here: ${reason}`);
    this.name = "ChaosPreflightError";
  }
}

export async function checkChaosPrerequisites(): Promise<void> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new ChaosPreflightError("it must run as root (network namespaces and iptables need CAP_NET_ADMIN)");
  }
  await require([
    "ip",
    "netns",
    "list",
  ], "`ip netns` is unavailable (install iproute2; the kernel needs netns)");
  await require(["iptables", "--version"], "`iptables` is missing (apt-get install iptables)");
}

async function require(command: readonly string[], reason: string): Promise<void> {
  try {
    await run(command);
  } catch (error) {
    throw new ChaosPreflightError(`${reason}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
