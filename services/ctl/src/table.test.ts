import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatFields, formatTable } from "./table.ts";

describe("formatTable", () => {
  test("pads every column to its widest cell, right-aligning numeric columns", () => {
    const text = formatTable(
      [{ header: "ID", align: "right" }, { header: "ADDRESS" }, { header: "HEALTH" }],
      [
        ["1", "127.0.0.1:20160", "up"],
        ["12", "10.0.0.7:20160", "disconnected"],
      ],
    );
    assert.equal(
      text,
      ["ID  ADDRESS          HEALTH", " 1  127.0.0.1:20160  up", "12  10.0.0.7:20160   disconnected"].join(
        "\n",
      ),
    );
  });

  test("an empty table keeps its header and says (none)", () => {
    assert.equal(formatTable([{ header: "NAME" }, { header: "PAUSED" }], []), "NAME  PAUSED\n(none)");
  });

  test("non-ASCII cells count as one column per character", () => {
    const text = formatTable(
      [{ header: "NAME" }, { header: "X" }],
      [
        ["zürich", "1"],
        ["a", "2"],
      ],
    );
    assert.deepEqual(text.split("\n"), ["NAME    X", "zürich  1", "a       2"]);
  });

  test("a row with the wrong number of cells is a programming error", () => {
    assert.throws(() => formatTable([{ header: "A" }, { header: "B" }], [["only one"]]), RangeError);
  });
});

describe("formatFields", () => {
  test("aligns values after the longest field name", () => {
    assert.equal(
      formatFields([
        ["id", "4"],
        ["address", "127.0.0.1:20160"],
      ]),
      "id       4\naddress  127.0.0.1:20160",
    );
  });
});
