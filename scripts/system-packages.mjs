// System packages the tests need. As root (CI, fresh Debian machines) they are installed with apt-get;
// otherwise we stop at once and name the package, rather than letting a test fail obscurely later.
import { execFileSync, spawnSync } from "node:child_process";

const REQUIRED = [
  // pd's HA tests start real etcd members.
  { binary: "etcd", debianPackage: "etcd-server" },
  // The deployment tests validate compose.yaml with docker-compose 1.29 and read YAML with the
  // python3 + PyYAML it brings along.
  { binary: "docker-compose", debianPackage: "docker-compose" },
  // The chaos tests cut links between network namespaces with iptables DROP rules.
  { binary: "iptables", debianPackage: "iptables" },
];

function hasBinary(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export function ensureSystemPackages() {
  const missing = REQUIRED.filter((p) => !hasBinary(p.binary));
  if (missing.length === 0) return;
  const packages = missing.map((p) => p.debianPackage);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !hasBinary("apt-get")) {
    console.error(
      `tests need Debian package(s): ${packages.join(", ")}; install them (apt-get install ${packages.join(" ")}) and rerun`,
    );
    process.exit(1);
  }
  console.error(`installing ${packages.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...packages], {
    stdio: "inherit",
    env,
  });
}
