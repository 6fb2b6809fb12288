/**
 * Partition shapes as grudges (see netns/network.ts): for each node, the nodes it cannot hear from.
 * Every shape is symmetric, so both sides of a cut drop each other's packets.
 */
import type { Random } from "#runtime";
import type { Grudge } from "../netns/network.ts";

export type PartitionShape = "isolate-one" | "isolate-leader" | "majority-minority" | "ring";
export const PARTITION_SHAPES: readonly PartitionShape[] = [
  "isolate-one",
  "isolate-leader",
  "majority-minority",
  "ring",
];

/** Cuts every link between the two groups. */
export function splitGrudge(side: readonly string[], otherSide: readonly string[]): Grudge {
  const grudge = new Map<string, Set<string>>();
  for (const node of side) grudge.set(node, new Set(otherSide));
  for (const node of otherSide) grudge.set(node, new Set(side));
  return grudge;
}

export function isolateGrudge(nodes: readonly string[], isolated: string): Grudge {
  return splitGrudge(
    [isolated],
    nodes.filter((node) => node !== isolated),
  );
}

/** A random minority (fewer than half) against the rest. */
export function majorityMinorityGrudge(nodes: readonly string[], random: Random): Grudge {
  const shuffled = random.shuffle([...nodes]);
  const minoritySize = Math.floor((nodes.length - 1) / 2);
  return splitGrudge(shuffled.slice(0, minoritySize), shuffled.slice(minoritySize));
}

/** Nodes in a random circle, each hearing only its two neighbours. */
export function ringGrudge(nodes: readonly string[], random: Random): Grudge {
  const circle = random.shuffle([...nodes]);
  const grudge = new Map<string, Set<string>>();
  circle.forEach((node, index) => {
    const neighbours = new Set([
      circle[(index + 1) % circle.length]!,
      circle[(index + circle.length - 1) % circle.length]!,
    ]);
    grudge.set(node, new Set(circle.filter((other) => other !== node && !neighbours.has(other))));
  });
  return grudge;
}

export function describeGrudge(grudge: Grudge): string {
  return [...grudge]
    .filter(([, unreachable]) => unreachable.size > 0)
    .map(([node, unreachable]) => `${node}✗{${[...unreachable].join(",")}}`)
    .join(" ");
}
