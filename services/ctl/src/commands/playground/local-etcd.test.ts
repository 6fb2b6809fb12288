import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { EtcdNotInstalledError, findEtcdBinary } from "./local-etcd.ts";

const directory = mkdtempSync(join(tmpdir(), "tessera-playground-etcd-"));
after(() => rmSync(directory, { recursive: true, force: true }));

test("etcd is taken from the first PATH directory holding an executable etcd", () => {
  const notExecutable = join(directory, "plain");
  const executable = join(directory, "bin");
  for (const folder of [notExecutable, executable]) mkdirSync(folder);
  writeFileSync(join(notExecutable, "etcd"), "");
  writeFileSync(join(executable, "etcd"), "#!/bin/sh\n");
  chmodSync(join(executable, "etcd"), 0o755);
  const searchPath = `${notExecutable}:${executable}`;
  assert.equal(findEtcdBinary(3, { searchPath, fallbackPaths: [] }), join(executable, "etcd"));
});

test("without etcd, --pd N > 1 fails with the reason and what to install", () => {
  const fallback = join(directory, "nowhere", "etcd");
  assert.throws(
    () => findEtcdBinary(3, { searchPath: join(directory, "nowhere"), fallbackPaths: [fallback] }),
    (error: unknown) => {
      assert.ok(error instanceof EtcdNotInstalledError);
      assert.match(error.message, /--pd 3 needs etcd/);
      assert.match(error.message, /apt-get install etcd-server/);
      assert.ok(error.message.includes(fallback));
      return true;
    },
  );
});
