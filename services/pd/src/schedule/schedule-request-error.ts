/**
 * A scheduling request from a person (HTTP API, ctl) that cannot be carried out. `code` lets the HTTP layer
 * pick a status: the not-found codes map to 404, "invalid-argument" to 400, "conflict" to 409.
 */
export type ScheduleRequestErrorCode =
  | "region-not-found"
  | "store-not-found"
  | "scheduler-not-found"
  | "invalid-argument"
  | "conflict";

export class ScheduleRequestError extends Error {
  override readonly name = "ScheduleRequestError";
  readonly code: ScheduleRequestErrorCode;
  readonly regionId: bigint | undefined;
  readonly storeId: bigint | undefined;

  constructor(options: {
    readonly code: ScheduleRequestErrorCode;
    readonly message: string;
    readonly regionId?: bigint;
    readonly storeId?: bigint;
  }) {
    super(options.message);
    this.code = options.code;
    this.regionId = options.regionId;
    this.storeId = options.storeId;
  }
}
