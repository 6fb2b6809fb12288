/** Test-only: an operator's steps as short strings ("add-learner@4", "transfer-leader@1->2") for assertions. */
import type { Operator } from "../schedule/operator.ts";

export function stepSummary(operator: Operator | undefined): string[] {
  return (operator?.steps ?? []).map((step) => {
    if (step.kind === "transfer-leader") return `transfer-leader@${step.fromStoreId}->${step.toStoreId}`;
    if (step.kind === "split") return "split";
    return `${step.kind}@${step.storeId}`;
  });
}
