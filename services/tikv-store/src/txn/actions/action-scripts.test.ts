/**
 * The Percolator actions, one script per action in testdata/ (commands in
 * testing/txn-actions/action-commands.ts). REWRITE=1 regenerates the expected outputs from what the code
 * does: check every changed output against transactions.md §3 before keeping it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ActionScriptEnvironment, runActionStep } from "../../testing/txn-actions/action-commands.ts";
import { parseScript, renderScript } from "../../testing/txn-actions/script-file.ts";

const TESTDATA = join(import.meta.dirname, "testdata");
const REWRITE = process.env.REWRITE === "1";

describe("percolator action scripts", () => {
  for (const fileName of readdirSync(TESTDATA)
    .filter((name) => name.endsWith(".txt"))
    .sort()) {
    it(fileName, async () => {
      const path = join(TESTDATA, fileName);
      const segments = parseScript(readFileSync(path, "utf8"), fileName);
      const env = new ActionScriptEnvironment();
      const outputs: string[] = [];
      for (const segment of segments) {
        if (segment.kind !== "step") continue;
        const { step } = segment;
        const output = await runActionStep(env, step);
        outputs.push(output);
        if (!REWRITE) assert.equal(output, step.expected, `${fileName}:${step.line}: ${step.source}`);
      }
      if (REWRITE) writeFileSync(path, renderScript(segments, outputs));
    });
  }
});
