/**
 * Collapses concurrent loads of the same thing into one: while a load for a key is in flight, later
 * callers get its promise instead of starting another (a cold cache hit by a hundred requests for one
 * region asks pd once). Failures are shared too; the entry is gone once the load settles.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const started = load().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }
}
