/**
 * Plain-text tables for terminal output: columns padded to their widest cell, two spaces apart, numbers
 * right-aligned so digits line up. No borders, so output stays greppable and copy-pastable.
 */

export type Alignment = "left" | "right";

export interface Column {
  readonly header: string;
  readonly align?: Alignment;
}

/** `rows` must have one cell per column; an empty table says so instead of printing a bare header. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  for (const [index, row] of rows.entries()) {
    if (row.length !== columns.length) {
      throw new RangeError(`table row ${index} has ${row.length} cells for ${columns.length} columns`);
    }
  }
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => displayWidth(row[index]!))),
  );
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, index) => pad(cell, widths[index]!, columns[index]!.align ?? "left"))
      .join("  ")
      .trimEnd();
  const lines = [render(columns.map((column) => column.header)), ...rows.map(render)];
  if (rows.length === 0) lines.push("(none)");
  return lines.join("\n");
}

/** A two-column "field  value" listing for one object. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([name]) => name.length));
  return fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`.trimEnd()).join("\n");
}

function pad(cell: string, width: number, align: Alignment): string {
  const padding = " ".repeat(Math.max(0, width - displayWidth(cell)));
  return align === "right" ? padding + cell : cell + padding;
}

/** Code points, not UTF-16 units, so a non-ASCII name does not skew its column. */
function displayWidth(text: string): number {
  return [...text].length;
}
