/**
 * Checks for numeric client options. Each returns the value so a resolver can check and assign in one
 * expression, and names the option in its RangeError so a bad configuration points at the field to fix.
 */

export function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}

export function positive(name: string, value: number): number {
  if (!(value > 0 && Number.isFinite(value))) throw new RangeError(`${name} must be > 0, got ${value}`);
  return value;
}

export function nonNegative(name: string, value: number): number {
  if (!(value >= 0 && Number.isFinite(value))) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}
