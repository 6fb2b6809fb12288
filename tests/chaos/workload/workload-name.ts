/** The chaos workloads: per-key registers checked for linearizability, or a set checked for lost inserts. */
export type WorkloadName = "register" | "set";
export const WORKLOAD_NAMES: readonly WorkloadName[] = ["register", "set"];
